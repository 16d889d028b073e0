"""`imagearena generate`: images from configured generators, into a study or into a folder.

The work is split into units, one image each: (generator, prompt, seed), where image k of ``n`` for a
prompt uses ``seed + k``. Each generator runs its units on its own threads, at most its entry's
``max_concurrency`` requests at a time (one image per request, or with ``batch`` up to that many
consecutive seeds of one prompt); the bytes it answers are checked by the one safe decoder
(imagearena.media) on those threads, then:

- into a study, the image goes to the content store and is recorded bound to its model (the generator
  entry's name, a global model whose meta names the backend and model id), its prompt, its seed and the
  parameters the backend reports (``image.source``: ``generate:`` and a JSON object), in short
  transactions of the images finished since the last one, so a running server's voters are not held up
  and an interrupted run keeps what it made;
- into a folder, it is written as ``DIR/<generator>/<slug>_<seed>.<ext>`` beside a ``.txt`` sidecar
  holding the prompt, the layout `imagearena import-folder` and `imagearena rank-folder` read.

A unit already done (same study, generator, prompt and seed; or the same file in the folder) is skipped,
so a rerun makes only what is missing. A failed image is reported with its one-line error and the run
goes on; a generator whose credentials or model are refused stops there (its other units would fail the
same way) and the others go on. API keys never reach a message, a file or the database: the backends
never put them there, and every message and record is scrubbed of them once more here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from imagearena.errors import ImageArenaError, InputError
from imagearena.folders.paths import check_name
from imagearena.generators.errors import GeneratorAuthError, UnknownModelError
from imagearena.media import IMAGE_SUFFIXES, ImageInfo, ImageRejected, Limits, MediaStore, inspect_image
from imagearena.text import check_text
from imagearena.types import GeneratedImage, GenerationRequest, Generator, StudyKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.generators.config import GeneratorConfig
    from imagearena.settings import Settings
    from imagearena.storage.studies import StudyRow

#: Most images per prompt and generator in one run.
MAX_N = 1000
#: Seeds are stored in a 32-bit column on PostgreSQL: every seed of a run must fit.
MAX_SEED = 2**31 - 1
#: What ``image.source`` of a generated image starts with (a JSON object follows).
SOURCE_PREFIX = "generate:"
#: Most images recorded in one transaction (those finished since the last one, up to this many).
RECORD_BATCH = 100
#: Longest readable part of a file name made from a prompt.
SLUG_CHARS = 48
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Unit:
    """One image to make: ``generator``'s answer to ``prompt`` with ``seed``."""

    generator: str
    prompt: str
    seed: int


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong, in one line. ``prompt`` and ``seed`` are None when the whole generator failed
    (it could not start, or stopped after refused credentials), ``images`` being how many it left unmade."""

    generator: str
    message: str
    prompt: str | None = None
    seed: int | None = None
    images: int = 1


@dataclass
class GenerationReport:
    """What a run did: images made, skipped as already there, made but identical to one already
    stored for the same generator and prompt (a backend that ignores seeds), and failures."""

    target: str  # the study's name or the output folder
    generated: int = 0
    already: int = 0
    duplicates: int = 0
    failures: list[Failure] = field(default_factory=list)
    made: dict[str, int] = field(default_factory=dict)  # generator -> images made, in the run's order

    @property
    def failed(self) -> int:
        return sum(f.images for f in self.failures)


# --- planning ------------------------------------------------------------------------------------------


def clean_prompts(prompts: Iterable[str]) -> list[str]:
    """The prompts, trimmed, checked as storable text, each once, in order; an empty list is an error."""
    seen: dict[str, None] = {}
    for prompt in prompts:
        text = (prompt or "").strip()
        if not text:
            continue
        check_text(text, "a prompt")
        seen.setdefault(text, None)
    if not seen:
        raise InputError("no prompt to generate: pass --prompt TEXT or --prompts FILE with prompts in it")
    return list(seen)


def plan(generators: Sequence[str], prompts: Sequence[str], n: int = 1, seed: int = 0) -> list[Unit]:
    """Every unit of a run, by generator, then prompt, then seed."""
    if not 1 <= n <= MAX_N:
        raise InputError(f"--n must be 1 to {MAX_N} images per prompt, not {n}")
    if seed < 0 or seed + n - 1 > MAX_SEED:
        raise InputError(f"seeds must be 0 to {MAX_SEED}: with --n {n}, pass --seed 0 to {MAX_SEED - n + 1}")
    return [Unit(g, p, seed + k) for g in generators for p in prompts for k in range(n)]


def slug(prompt: str) -> str:
    """A file-name stem for ``prompt``: its first words in lower-case ASCII joined by '-', and a short
    digest of the whole text, so two prompts never share a name."""
    words = "-".join(re.findall(r"[a-z0-9]+", prompt.lower()))[:SLUG_CHARS].strip("-")
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8]
    return f"{words}-{digest}" if words else digest


def file_stem(unit: Unit) -> str:
    """``<slug>_<seed>``: the name (without extension) of a unit's image in an output folder."""
    return f"{slug(unit.prompt)}_{unit.seed}"


def check_generator_names(configs: Sequence[GeneratorConfig]) -> None:
    """Generator names become model names and folder names: refuse one that cannot be both (what
    catalog.check_model_name refuses is refused here too, without loading the database layer)."""
    for config in configs:
        name = config.name
        try:
            check_name(name)
        except ImageArenaError:
            bad = True
        else:
            bad = "/" in name or name.startswith(".") or name != name.strip() or len(name) > 200
        if bad:
            raise InputError(
                f"generator {name!r}: its name becomes a model and a folder name: rename the entry "
                "without '/', '\\', control characters, outer spaces or a leading '.'"
            )


# --- where images go ------------------------------------------------------------------------------------


class Sink(Protocol):
    """Where a run's images go. ``prepare`` runs on a generator's thread (decode, check, write files);
    ``record`` on the caller's thread (the database) takes the images finished since its last call and
    tells, for each, whether it was added (False: a duplicate)."""

    target: str

    def has(self, unit: Unit) -> bool: ...

    def prepare(self, unit: Unit, image: GeneratedImage, config: GeneratorConfig) -> Any: ...

    def record(self, prepared: Sequence[Any]) -> list[bool]: ...


@dataclass(frozen=True, slots=True)
class _Stored:
    unit: Unit
    info: ImageInfo
    source: str
    meta: dict[str, Any]


class StudySink:
    """Images into a study: the content store, then one short transaction per batch of finished images."""

    def __init__(
        self,
        session: Session,
        store: MediaStore,
        study_name: str,
        *,
        limits: Limits = Limits(),
        secrets: Sequence[str] = (),
        prompt_source: str = "generate",
    ) -> None:
        from imagearena.storage import catalog
        from imagearena.storage.studies import get_or_create_study

        self.session = session
        self.store = store
        self.limits = limits
        self.secrets = tuple(secrets)
        self.prompt_source = prompt_source
        self.study: StudyRow = get_or_create_study(session, study_name)
        if self.study.kind == StudyKind.FOLDER:
            session.rollback()
            raise InputError(
                f"study {study_name!r} ranks a folder's own images: generate into a folder with --out DIR, "
                "or into another study"
            )
        self.target = self.study.name
        self._done = catalog.seeded_images(session, self.study)
        session.commit()  # no transaction stays open while images are generated

    def has(self, unit: Unit) -> bool:
        from imagearena.storage.catalog import prompt_digest

        return (unit.generator, prompt_digest(unit.prompt), unit.seed) in self._done

    def prepare(self, unit: Unit, image: GeneratedImage, config: GeneratorConfig) -> _Stored:
        info = self.store.put(image.data, self.limits)
        record: dict[str, Any] = {"generator": unit.generator, "seed": unit.seed}
        if image.seed != unit.seed:  # None: the backend takes no seed; another: the one it reports
            record["backend_seed"] = image.seed
        record["params"] = dict(image.params)
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
        meta = {"backend": config.backend, **({"model": config.model} if config.model else {})}
        return _Stored(unit, info, SOURCE_PREFIX + redact(text, self.secrets), meta)

    def record(self, prepared: Sequence[_Stored]) -> list[bool]:
        """Record images in one short transaction: on SQLite the write lock is held for the inserts
        only, never while images are being generated."""
        from imagearena.storage import catalog

        added = []
        try:
            models = {}
            for item in prepared:
                unit = item.unit
                if unit.generator not in models:
                    models[unit.generator] = catalog.get_or_create_model(
                        self.session, unit.generator, item.meta
                    )
                prompt = catalog.get_or_create_prompt(self.session, unit.prompt, source=self.prompt_source)
                _, created = catalog.add_image(
                    self.session,
                    self.study,
                    models[unit.generator],
                    prompt,
                    item.info,
                    source=item.source,
                    seed=unit.seed,
                )
                added.append(created)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        for item in prepared:
            unit = item.unit
            self._done.add((unit.generator, catalog.prompt_digest(unit.prompt), unit.seed))
        return added


class FolderSink:
    """Images into ``root/<generator>/<slug>_<seed>.<ext>``, each beside its prompt sidecar ``.txt``.

    The sidecar is written before the image and both are renamed into place whole, so an image in the
    folder always has its prompt, and a run killed mid-write leaves only hidden ``.tmp-`` files."""

    def __init__(self, root: Path, *, limits: Limits = Limits()) -> None:
        if root.exists() and not root.is_dir():
            raise InputError(f"{root} is a file: pass --out a folder (it is created when missing)")
        self.root = root
        self.limits = limits
        self.target = str(root)
        self._names: dict[str, set[str]] = {}

    def _existing(self, generator: str) -> set[str]:
        """Stems of the images already in ``root/<generator>/``, listed once."""
        if generator not in self._names:
            folder = self.root / generator
            self._names[generator] = (
                {p.stem for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
                if folder.is_dir()
                else set()
            )
        return self._names[generator]

    def has(self, unit: Unit) -> bool:
        return file_stem(unit) in self._existing(unit.generator)

    def prepare(self, unit: Unit, image: GeneratedImage, config: GeneratorConfig) -> Path:
        info = inspect_image(image.data, self.limits)
        folder = self.root / unit.generator
        folder.mkdir(parents=True, exist_ok=True)
        stem = file_stem(unit)
        _write_atomic(folder / f"{stem}.txt", unit.prompt.encode("utf-8") + b"\n")
        target = folder / f"{stem}.{info.extension}"
        _write_atomic(target, image.data)
        return target

    def record(self, prepared: Sequence[Path]) -> list[bool]:
        return [True] * len(prepared)  # already in place


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret in it replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def secrets_of(configs: Sequence[GeneratorConfig]) -> list[str]:
    """The keys the entries' ``api_key_env`` variables hold now (never shown: only scrubbed out)."""
    found = (os.environ.get(c.api_key_env, "").strip() for c in configs if c.api_key_env)
    return [key for key in found if len(key) >= 4]  # a key of 1-3 characters would scrub ordinary text


# --- the run -------------------------------------------------------------------------------------------


@dataclass
class _Lane:
    """One generator's part of a run: the generator, its threads, and why it stopped, if it did."""

    config: GeneratorConfig
    generator: Generator | None = None
    pool: ThreadPoolExecutor | None = None
    stopped: str | None = None
    skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class _Outcome:
    unit: Unit
    prepared: Any = None
    error: str | None = None
    skipped: bool = False


def run(
    configs: Sequence[GeneratorConfig],
    units: Sequence[Unit],
    sink: Sink,
    *,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Unit, bool], None] | None = None,
    on_failure: Callable[[Failure], None] | None = None,
    batch: int = 1,
    make: Callable[[GeneratorConfig], Generator] | None = None,
) -> GenerationReport:
    """Make every unit ``sink`` does not have yet; ``on_start(total)`` tells how many will be tried,
    ``on_done(unit, ok)`` follows each of them and ``on_failure(failure)`` each failure as it happens
    (all three on the caller's thread). ``batch`` > 1 asks for up to that many consecutive seeds of one
    prompt in one request (a GPU pipeline draws them together; an API makes fewer calls). ``make``
    builds each entry's generator (default: the backend in this process; a bulk run on a cluster
    passes one that answers from remote workers)."""
    from imagearena.generators.config import MAX_IMAGES_PER_REQUEST, create

    make = make or create

    if not 1 <= batch <= MAX_IMAGES_PER_REQUEST:
        raise InputError(f"--batch must be 1 to {MAX_IMAGES_PER_REQUEST} images per request, not {batch}")
    report = GenerationReport(target=sink.target, made={c.name: 0 for c in configs})

    def failed(failure: Failure) -> None:
        report.failures.append(failure)
        if on_failure:
            on_failure(failure)

    secrets = secrets_of(configs)
    lanes = {c.name: _Lane(c) for c in configs}
    todo: dict[str, list[Unit]] = {name: [] for name in lanes}
    for unit in units:
        if sink.has(unit):
            report.already += 1
        else:
            todo[unit.generator].append(unit)
    if on_start:
        on_start(sum(len(u) for u in todo.values()))
    futures: list[Future[list[_Outcome]]] = []
    try:
        for name, lane in lanes.items():
            if not todo[name]:
                continue
            try:
                lane.generator = make(lane.config)
            except ImageArenaError as exc:
                message = redact(str(exc), secrets)
                failed(Failure(name, message, images=len(todo[name])))
                for unit in todo[name]:
                    if on_done:
                        on_done(unit, False)
                continue
            lane.pool = ThreadPoolExecutor(lane.config.max_concurrency, thread_name_prefix=f"generate-{name}")
            futures.extend(
                lane.pool.submit(_make, lane, request, sink) for request in requests(todo[name], batch)
            )
        pending: set[Future[list[_Outcome]]] = set(futures)
        while pending:  # what finished meanwhile is recorded together
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            outcomes = [outcome for f in finished for outcome in f.result()]
            made = [o for o in outcomes if o.error is None and not o.skipped]
            for start in range(0, len(made), RECORD_BATCH):
                chunk = made[start : start + RECORD_BATCH]
                for outcome, added in zip(chunk, sink.record([o.prepared for o in chunk]), strict=True):
                    if added:
                        report.generated += 1
                        report.made[outcome.unit.generator] += 1
                    else:
                        report.duplicates += 1
            for outcome in outcomes:
                unit = outcome.unit
                if outcome.skipped:
                    lanes[unit.generator].skipped += 1
                elif outcome.error is not None:
                    message = redact(outcome.error, secrets)
                    failed(Failure(unit.generator, message, unit.prompt, unit.seed))
                if on_done:
                    on_done(unit, outcome.error is None and not outcome.skipped)
    except BaseException:  # Ctrl-C or a database error: units not started yet are dropped
        for lane in lanes.values():
            lane.stopped = lane.stopped or "the run was interrupted"
        raise
    finally:
        for lane in lanes.values():
            if lane.pool is not None:
                lane.pool.shutdown(wait=False, cancel_futures=True)
            close = getattr(lane.generator, "close", None)
            if callable(close):
                close()
    for lane in lanes.values():
        if lane.skipped:
            message = f"{lane.skipped} image(s) not tried after: {redact(lane.stopped or '', secrets)}"
            failed(Failure(lane.config.name, message, images=lane.skipped))
    return report


def requests(units: Sequence[Unit], batch: int) -> list[list[Unit]]:
    """``units`` (of one generator) cut into requests: runs of consecutive seeds of one prompt, at most
    ``batch`` long, so image k of a request is the one with the request's seed + k."""
    cut: list[list[Unit]] = []
    for unit in units:
        last = cut[-1] if cut else None
        if (
            last is not None
            and len(last) < batch
            and last[-1].prompt == unit.prompt
            and last[-1].seed + 1 == unit.seed
        ):
            last.append(unit)
        else:
            cut.append([unit])
    return cut


def _make(lane: _Lane, units: Sequence[Unit], sink: Sink) -> list[_Outcome]:
    """One request on a generator's thread: ask the backend for its units' images (consecutive seeds
    of one prompt), check and place each; an image the answer lacks is that unit's failure."""
    if lane.stopped is not None:
        return [_Outcome(unit, skipped=True) for unit in units]
    assert lane.generator is not None
    name = lane.config.name
    first = units[0]
    try:
        images = lane.generator.generate(GenerationRequest(first.prompt, first.seed, n=len(units)))
    except (GeneratorAuthError, UnknownModelError) as exc:
        with lane.lock:  # the rest would be refused the same way: stop asking
            lane.stopped = lane.stopped or str(exc)
        return [_Outcome(unit, error=str(exc)) for unit in units]
    except ImageArenaError as exc:
        return [_Outcome(unit, error=str(exc)) for unit in units]
    outcomes = []
    for k, unit in enumerate(units):
        if k >= len(images):
            lacking = f"generator {name!r} answered {len(images)} image(s) of the {len(units)} asked for"
            outcomes.append(_Outcome(unit, error=lacking))
            continue
        try:
            outcomes.append(_Outcome(unit, prepared=sink.prepare(unit, images[k], lane.config)))
        except ImageRejected as exc:
            message = f"generator {name!r} sent an image that cannot be stored: {exc}"
            outcomes.append(_Outcome(unit, error=message))
        except ImageArenaError as exc:
            outcomes.append(_Outcome(unit, error=str(exc)))
        except OSError as exc:
            outcomes.append(_Outcome(unit, error=f"cannot write the image: {exc.strerror or exc}"))
    return outcomes


# --- the command's use cases ------------------------------------------------------------------------------


def generate_into_study(
    settings: Settings,
    configs: Sequence[GeneratorConfig],
    prompts: Sequence[str],
    study: str,
    *,
    n: int = 1,
    seed: int = 0,
    prompt_source: str = "generate",
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Unit, bool], None] | None = None,
    on_failure: Callable[[Failure], None] | None = None,
    batch: int = 1,
) -> GenerationReport:
    """`imagearena generate --study NAME`: the images into the study (created when missing) in the
    database and media store of ``settings``."""
    from imagearena.arena.database import database_session

    check_generator_names(configs)
    units = plan([c.name for c in configs], clean_prompts(prompts), n, seed)
    with database_session(settings.database_url) as session:
        sink = StudySink(
            session,
            MediaStore(settings.media_dir),
            study,
            limits=Limits.from_settings(settings),
            secrets=secrets_of(configs),
            prompt_source=prompt_source,
        )
        return run(
            configs, units, sink, on_start=on_start, on_done=on_done, on_failure=on_failure, batch=batch
        )


def generate_into_folder(
    configs: Sequence[GeneratorConfig],
    prompts: Sequence[str],
    out: Path,
    *,
    n: int = 1,
    seed: int = 0,
    limits: Limits = Limits(),
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Unit, bool], None] | None = None,
    on_failure: Callable[[Failure], None] | None = None,
    batch: int = 1,
) -> GenerationReport:
    """`imagearena generate --out DIR`: the images into ``DIR/<generator>/`` with prompt sidecars."""
    check_generator_names(configs)
    units = plan([c.name for c in configs], clean_prompts(prompts), n, seed)
    sink = FolderSink(out, limits=limits)
    return run(configs, units, sink, on_start=on_start, on_done=on_done, on_failure=on_failure, batch=batch)
