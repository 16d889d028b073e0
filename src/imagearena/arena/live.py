"""Live studies: a round's images are generated when a voter asks for it.

A live round is a job. Starting one (:meth:`LiveRounds.start`) checks the voter's hourly limit, takes
the voter's prompt (or draws one from the study's prompts), passes it through the prompt filter before
any generator is called, picks the generators with the study's sampler among those with budget left
today, and sets each of them to work on its own threads (at most its entry's ``max_concurrency``
requests at a time, all with one seed). The job reports each image's progress; when every image has
arrived and passed the safe decoder, the images go to the media store and their rows are written in one
transaction, and the round is sealed like any served match (arena.matches): votes, undo, leaderboards
and exports treat it as any other.

A backend that fails, or has not answered within its entry's ``timeout_s``, fails the job: no image row,
no match row (a match is written only with its vote), and no file in the media store (images are
written only once all have arrived; files of a transaction that failed are removed unless an image row
names them). Messages are scrubbed of API keys.

Jobs, the hourly counts per voter and the budget held by running jobs live in this process's memory:
each server process counts on its own and a restart forgets them. Budgets are counted from the images
the study's live rounds stored today (UTC) per generator, plus those of rounds still running here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets as secrets_module
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.arena.generation import redact, secrets_of
from imagearena.arena.matches import ServedImage, ServedMatch
from imagearena.arena.prompt_filter import PromptFilter, build_filter, check_prompt
from imagearena.errors import (
    ConflictError,
    ImageArenaError,
    InputError,
    ServiceUnavailableError,
    UnknownNameError,
)
from imagearena.media import ImageInfo, ImageRejected, Limits, inspect_image
from imagearena.text import check_text
from imagearena.types import GeneratedImage, GenerationRequest, Generator, RoundType, StudyKind

if TYPE_CHECKING:
    from imagearena.arena.pool import StudyPool
    from imagearena.arena.runtime import Arena
    from imagearena.generators.config import GeneratorConfig
    from imagearena.storage.live import LiveSettingsRow
    from imagearena.storage.studies import StudyRow

log = logging.getLogger("imagearena.live")

#: Longest prompt a voter may type.
MAX_PROMPT_LENGTH = 2000
#: Most prompts a study's live settings may hold to draw from.
MAX_PROMPTS = 10_000
#: Seeds are stored in a 32-bit column on PostgreSQL.
MAX_SEED = 2**31 - 1
#: How long a finished job can still be read.
JOB_TTL_S = 600.0
#: Most finished rounds one process keeps readable (the newest), however many were made lately.
MAX_FINISHED = 10_000
#: Most live rounds one process generates at a time.
MAX_RUNNING = 64
#: How long a study's live settings are reused before they are read again (another process may change them).
SETTINGS_TTL_S = 2.0
#: Longest a progress request may wait for news.
MAX_WAIT_S = 30.0
WAITING, GENERATING, DONE, FAILED = "waiting", "generating", "done", "failed"
RUNNING, READY = "running", "ready"


class LiveLimitError(ImageArenaError):
    """A voter's hourly live rounds or a generator's daily budget is spent; ``retry_after_s`` says when
    to try again."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)


def images_per_round(round_type: RoundType) -> int:
    return 2 if round_type is RoundType.PAIR else 4


# --- settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveStudySettings:
    """A study's live settings and what an admin form needs beside them: the generator entries the
    generators file offers."""

    study: str
    round_type: RoundType
    generators: tuple[str, ...]
    voter_limit_per_hour: int
    daily_budget: Mapping[str, int]
    prompts: tuple[str, ...]
    available: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        """A voter can start live rounds: the study has enough generators for its round type."""
        return len(self.generators) >= images_per_round(self.round_type)


def load_configs(arena: Arena) -> dict[str, GeneratorConfig]:
    """The entries of the settings' generators file ({} when there is none)."""
    return arena.live.configs()


def get_live_settings(arena: Arena, study: str) -> LiveStudySettings:
    from imagearena.storage.live import get_live_settings as stored
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        row = get_study(session, study)
        settings = stored(session, row.id)
    available = tuple(load_configs(arena))
    return LiveStudySettings(
        row.name,
        RoundType(row.round_type),
        settings.generators if settings else (),
        settings.voter_limit_per_hour if settings else 0,
        dict(settings.daily_budget) if settings else {},
        settings.prompts if settings else (),
        available,
    )


def live_state(arena: Arena, study: str) -> LiveStudySettings | None:
    """The study's live settings when voters can start live rounds, else None; reads the database only
    (``available`` is left empty), so a page of a study that is not live never reads the generators file."""
    from imagearena.storage.live import get_live_settings as stored
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        row = get_study(session, study)
        settings = stored(session, row.id)
    if settings is None:
        return None
    state = LiveStudySettings(
        row.name,
        RoundType(row.round_type),
        settings.generators,
        settings.voter_limit_per_hour,
        dict(settings.daily_budget),
        settings.prompts,
        (),
    )
    return state if state.enabled else None


def save_live_settings(
    arena: Arena,
    study: str,
    *,
    generators: Sequence[str],
    voter_limit_per_hour: int = 0,
    daily_budget: Mapping[str, int] | None = None,
    prompts: Sequence[str] = (),
) -> LiveStudySettings:
    """Set a study's live settings (admins): every generator must be an entry of the generators file,
    at least as many as a round shows (or none, which turns live rounds off)."""
    from imagearena.arena.generation import check_generator_names
    from imagearena.storage.live import LiveSettingsRow
    from imagearena.storage.live import save_live_settings as store
    from imagearena.storage.studies import get_study

    configs = load_configs(arena)
    names = list(dict.fromkeys(g.strip() for g in generators if g and g.strip()))
    unknown = [g for g in names if g not in configs]
    if unknown:
        offered = ", ".join(configs) or f"none: write entries into {arena.settings.generators_path}"
        raise InputError(
            f"no generator entry named {', '.join(map(repr, unknown))}; the generators file offers {offered}"
        )
    check_generator_names([configs[g] for g in names])
    if voter_limit_per_hour < 0:
        raise InputError("the live rounds per voter and hour must be 0 (no limit) or more")
    budget: dict[str, int] = {}
    for name, images in (daily_budget or {}).items():
        if name not in names:
            raise InputError(
                f"a daily budget for {name!r}, which is not one of the study's generators: drop it"
            )
        if not isinstance(images, int) or isinstance(images, bool) or images < 0:
            raise InputError(f"the daily budget of {name!r} must be a whole number of images, 0 or more")
        budget[name] = images
    cleaned = list(dict.fromkeys(p.strip() for p in prompts if p and p.strip()))
    if len(cleaned) > MAX_PROMPTS:
        raise InputError(f"at most {MAX_PROMPTS} prompts to draw from, not {len(cleaned)}")
    for prompt in cleaned:
        check_text(prompt, "a prompt", MAX_PROMPT_LENGTH)
    with arena.writing() as session, session.begin():
        row = get_study(session, study)
        if row.kind == StudyKind.FOLDER:
            raise ConflictError(f"study {study!r} ranks a folder's images: live rounds need another study")
        need = images_per_round(RoundType(row.round_type))
        if names and len(names) < need:
            raise InputError(
                f"study {study!r} shows {need} images a round: choose at least {need} generators (or none)"
            )
        store(session, LiveSettingsRow(row.id, tuple(names), voter_limit_per_hour, budget, tuple(cleaned)))
    arena.live.forget(study)
    return get_live_settings(arena, study)


# --- jobs ----------------------------------------------------------------------------------------------


@dataclass
class LiveJob:
    """One live round being made. ``generators`` (in display order) is never shown before the vote."""

    id: str
    study: str
    study_id: int
    prompt: str
    round_type: RoundType
    generators: tuple[str, ...]
    seed: int
    images: list[str]
    started: float = field(default_factory=time.monotonic)
    state: str = RUNNING
    error: str | None = None
    match: ServedMatch | None = None
    finished: float | None = None
    version: int = 0
    #: Each generator's own time for its image (seconds), for the overhead benchmark.
    generator_s: list[float] = field(default_factory=list)
    _waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=list, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def _update(self, **changes: Any) -> None:
        with self._changed:
            for key, value in changes.items():
                setattr(self, key, value)
            self.version += 1
            self._changed.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits there any more
                loop.call_soon_threadsafe(event.set)

    def set_image(self, index: int, state: str) -> None:
        with self._changed:
            self.images[index] = state
        self._update()

    def wait(self, seen: int, timeout_s: float) -> None:
        """Block until the job changed since version ``seen``, or ``timeout_s`` passed."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout=timeout_s)

    async def wait_async(self, seen: int, timeout_s: float) -> None:
        """The same without holding a thread: for a progress request."""
        if self.version != seen or timeout_s <= 0:
            return
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._changed:
            self._waiters.append(entry)
        try:
            if self.version == seen:
                await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._changed:
                self._waiters.remove(entry)

    @property
    def done(self) -> bool:
        return self.state != RUNNING


@dataclass(frozen=True, slots=True)
class _Made:
    index: int
    image: GeneratedImage
    info: ImageInfo
    seconds: float


class LiveRounds:
    """The live rounds of one server process: the generators (built once from the generators file and
    kept), their threads, the jobs and the counts behind the hourly limits and the daily budgets."""

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self._lock = threading.Lock()
        self._configs: dict[str, GeneratorConfig] = {}
        self._configs_stamp: tuple[str, float] | None = None
        self._generators: dict[str, Generator] = {}
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._coordinator = ThreadPoolExecutor(MAX_RUNNING, thread_name_prefix="live-round")
        self._jobs: dict[str, LiveJob] = {}
        self._held: dict[tuple[int, str, str], int] = {}  # (study, generator, UTC day) -> images running
        self._starts: dict[tuple[int, str], deque[float]] = {}  # (study, voter) -> start times
        self._filter: PromptFilter | None = None
        self._settings: dict[str, tuple[float, StudyRow, LiveSettingsRow | None]] = {}
        self._model_ids: dict[str, int] = {}  # generator -> its model's id, once committed
        self._rng = random.SystemRandom()
        self._closed = False

    # --- configuration ---------------------------------------------------------------------------

    def configs(self) -> dict[str, GeneratorConfig]:
        """The generators file's entries, read again when the file changes."""
        from imagearena.generators.config import load_generators

        path = Path(self.arena.settings.generators_path)
        try:
            stamp: tuple[str, float] | None = (str(path), path.stat().st_mtime)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._configs_stamp:
                self._configs = load_generators(path) if stamp is not None else {}
                self._configs_stamp = stamp
                for name in [n for n in self._generators if n not in self._configs]:
                    self._drop_generator(name)
            return dict(self._configs)

    def prompt_filter(self) -> PromptFilter:
        with self._lock:
            if self._filter is None:
                self._filter = build_filter(self.arena.settings)
            return self._filter

    def _generator(self, config: GeneratorConfig) -> tuple[Generator, ThreadPoolExecutor]:
        from imagearena.generators.config import create

        with self._lock:
            if config.name not in self._generators:
                self._generators[config.name] = create(config)
                self._pools[config.name] = ThreadPoolExecutor(
                    config.max_concurrency, thread_name_prefix=f"live-{config.name}"
                )
            return self._generators[config.name], self._pools[config.name]

    def _drop_generator(self, name: str) -> None:
        generator = self._generators.pop(name, None)
        pool = self._pools.pop(name, None)
        if pool is not None:
            pool.shutdown(wait=False)
        close = getattr(generator, "close", None)
        if callable(close):
            close()

    # --- starting a round ------------------------------------------------------------------------

    def start(self, study: str, prompt: str | None = None, *, voter: str = "") -> LiveJob:
        """Start a live round of ``study`` for ``prompt`` (None: drawn from the study's prompts).

        400 for a prompt refused or unusable, 404 for an unknown study, 409 when the study is not live,
        429 when the voter's hourly rounds or the chosen generators' budgets are spent, 503 when this
        process is already making too many rounds."""
        from imagearena.storage.catalog import study_prompts
        from imagearena.storage.live import generated_since
        from imagearena.storage.prompt_sets import attached_texts

        if self._closed:
            raise ServiceUnavailableError("the server is shutting down: try again in a moment")
        voter = check_text(voter or "", "voter", 100)
        text = (
            None if prompt is None else " ".join(check_text(prompt, "the prompt", MAX_PROMPT_LENGTH).split())
        )
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        row, settings = self._study(study)
        round_type = RoundType(row.round_type)
        need = images_per_round(round_type)
        if settings is None or len(settings.generators) < need:
            raise ConflictError(
                f"study {row.name!r} is not live: an admin chooses its generators on the study page first"
            )
        used: dict[str, int] = {}
        if not text or settings.daily_budget:
            with self.arena.read_session() as session:
                if not text:
                    drawn = (
                        list(settings.prompts)
                        or attached_texts(session, row.id)
                        or [p.text for p in study_prompts(session, row)]
                    )
                    if not drawn:
                        raise InputError("this study has no prompts to draw from yet: type a prompt")
                    text = self._rng.choice(drawn)
                if settings.daily_budget:
                    used = generated_since(session, row.id, today)
        check_prompt(self.prompt_filter(), text)
        configs = self.configs()
        missing = [g for g in settings.generators if g not in configs]
        if len(settings.generators) - len(missing) < need:
            raise ConflictError(
                f"study {row.name!r} names generators the generators file no longer has "
                f"({', '.join(missing)}): an admin updates the file or the study's generators"
            )
        self._purge()
        pool = self._pool(row.name)  # loaded (a query) before the lock, if it is not yet
        with self._lock:
            self._check_voter(row.id, voter, settings)
            day = today.date().isoformat()
            spent = [
                g
                for g in settings.generators
                if g in settings.daily_budget
                and used.get(g, 0) + self._held.get((row.id, g, day), 0) >= settings.daily_budget[g]
            ]
            candidates = [g for g in settings.generators if g in configs and g not in spent]
            if len(candidates) < need:
                midnight = today + timedelta(days=1)
                raise LiveLimitError(
                    f"today's budget of {', '.join(spent)} is spent, so this study cannot make a round of "
                    f"{need} images until {midnight:%H:%M} UTC: vote on the rounds already made, or come back then",
                    int((midnight - datetime.now(UTC)).total_seconds()),
                )
            if sum(not j.done for j in self._jobs.values()) >= MAX_RUNNING:
                raise ServiceUnavailableError(
                    "the server is making too many live rounds: try again in a moment"
                )
            chosen = self._choose(pool, candidates, need)
            for g in chosen:
                self._held[(row.id, g, day)] = self._held.get((row.id, g, day), 0) + 1
            if settings.voter_limit_per_hour:
                self._starts.setdefault((row.id, voter), deque()).append(time.monotonic())
            job = LiveJob(
                id=secrets_module.token_urlsafe(18),
                study=row.name,
                study_id=row.id,
                prompt=text,
                round_type=round_type,
                generators=chosen,
                seed=self._rng.randint(0, MAX_SEED),
                images=[WAITING] * need,
            )
            self._jobs[job.id] = job
        try:
            self._coordinator.submit(self._run, job, [configs[g] for g in chosen], day)
        except RuntimeError:  # closed meanwhile
            self._release(job, day)
            raise ServiceUnavailableError("the server is shutting down: try again in a moment") from None
        return job

    def _study(self, study: str) -> tuple[StudyRow, LiveSettingsRow | None]:
        """The study and its live settings, read at most every SETTINGS_TTL_S seconds (a change made
        through this process is seen at once: :meth:`forget`)."""
        from imagearena.storage.live import get_live_settings as stored
        from imagearena.storage.studies import get_study

        cached = self._settings.get(study)
        if cached is not None and time.monotonic() - cached[0] < SETTINGS_TTL_S:
            return cached[1], cached[2]
        with self.arena.read_session() as session:
            row = get_study(session, study)
            settings = stored(session, row.id)
        self._settings[study] = (time.monotonic(), row, settings)
        return row, settings

    def forget(self, study: str) -> None:
        """Drop what is cached of a study's settings (after a change)."""
        self._settings.pop(study, None)

    def _check_voter(self, study_id: int, voter: str, settings: LiveSettingsRow) -> None:
        limit = settings.voter_limit_per_hour
        if not limit:
            return
        starts = self._starts.get((study_id, voter))
        now = time.monotonic()
        while starts and now - starts[0] >= 3600:
            starts.popleft()
        if starts is not None and len(starts) >= limit:
            wait_s = int(3600 - (now - starts[0])) + 1
            raise LiveLimitError(
                f"you started {limit} live rounds in the last hour, this study's limit: "
                f"vote on rounds already made, or start another in {max(1, wait_s // 60)} min",
                wait_s,
            )

    def _pool(self, study: str) -> StudyPool | None:
        try:
            return self.arena.pools.get(study)
        except ImageArenaError:
            return None

    def _choose(self, pool: StudyPool | None, candidates: Sequence[str], size: int) -> tuple[str, ...]:
        """``size`` generators: the study's sampler picks where it knows them (its pool holds their
        images, and it learnt from the votes), else a uniform draw; in random display order."""
        chosen = None if pool is None else pool.choose(candidates, size)
        group = list(chosen or self._rng.sample(list(candidates), size))
        self._rng.shuffle(group)
        return tuple(group)

    def _release(self, job: LiveJob, day: str) -> None:
        with self._lock:
            for g in job.generators:
                key = (job.study_id, g, day)
                left = self._held.get(key, 0) - 1
                if left > 0:
                    self._held[key] = left
                else:
                    self._held.pop(key, None)

    def _purge(self) -> None:
        now = time.monotonic()
        with self._lock:
            for job_id in [
                j.id for j in self._jobs.values() if j.finished is not None and now - j.finished > JOB_TTL_S
            ]:
                del self._jobs[job_id]
            for key in [k for k, v in self._starts.items() if not v or now - v[-1] >= 3600]:
                del self._starts[key]
            finished = [j for j in self._jobs.values() if j.finished is not None]
            if len(finished) > MAX_FINISHED:  # a flood of rounds: keep the newest
                finished.sort(key=lambda j: j.finished or 0.0)
                for job in finished[: len(finished) - MAX_FINISHED]:
                    del self._jobs[job.id]

    def job(self, job_id: str) -> LiveJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownNameError(
                "no live round with this id here: it finished over 10 minutes ago, or the server restarted; "
                "start a new one"
            )
        return job

    # --- making a round --------------------------------------------------------------------------

    def _run(self, job: LiveJob, configs: Sequence[GeneratorConfig], day: str) -> None:
        keys = secrets_of(configs)
        try:
            made = self._generate(job, configs)
            job._update(match=self._store(job, configs, made, keys), state=READY, finished=time.monotonic())
        except ImageArenaError as exc:
            message = redact(str(exc), keys)
            log.warning("live round of study %r failed: %s", job.study, message)
            job._update(
                state=FAILED,
                error=f"this round could not be made, and nothing of it was kept: {message}",
                finished=time.monotonic(),
            )
        except Exception as exc:  # a bug or the database: the voter still gets an answer
            log.error("live round of study %r failed: %s", job.study, redact(repr(exc), keys))
            job._update(
                state=FAILED,
                error="this round could not be made, and nothing of it was kept: try again",
                finished=time.monotonic(),
            )
        finally:
            self._release(job, day)

    def _generate(self, job: LiveJob, configs: Sequence[GeneratorConfig]) -> list[_Made]:
        limits = Limits.from_settings(self.arena.settings)
        futures: list[Future[_Made]] = []
        for index, config in enumerate(configs):
            try:
                generator, pool = self._generator(config)
            except BaseException:  # the backend could not be built (a missing key, a missing extra)
                job.set_image(index, FAILED)
                for future in futures:
                    future.cancel()
                raise
            futures.append(pool.submit(self._one, job, index, generator, config, limits))
        deadline = max(c.timeout_s for c in configs)
        done, pending = wait(futures, timeout=deadline, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future in done and future.exception() is not None:
                for other in pending:
                    other.cancel()
                raise future.exception()  # type: ignore[misc]
        if pending:
            for other in pending:
                other.cancel()
            late = [configs[futures.index(f)].name for f in pending]
            for f in pending:
                job.set_image(futures.index(f), FAILED)
            raise ServiceUnavailableError(
                f"generator {', '.join(map(repr, late))} did not answer within {deadline:g} s"
            )
        return [f.result() for f in futures]

    def _one(
        self, job: LiveJob, index: int, generator: Generator, config: GeneratorConfig, limits: Limits
    ) -> _Made:
        if job.done:
            raise ConflictError("the round was given up")
        job.set_image(index, GENERATING)
        started = time.perf_counter()
        try:
            images = generator.generate(GenerationRequest(job.prompt, job.seed, n=1))
            seconds = time.perf_counter() - started
            if not images:
                raise ServiceUnavailableError(f"generator {config.name!r} answered no image")
            try:
                info = inspect_image(images[0].data, limits)
            except ImageRejected as exc:
                raise InputError(
                    f"generator {config.name!r} sent an image that cannot be stored: {exc}"
                ) from None
        except BaseException:
            job.set_image(index, FAILED)
            raise
        job.set_image(index, DONE)
        return _Made(index, images[0], info, seconds)

    def _store(
        self, job: LiveJob, configs: Sequence[GeneratorConfig], made: Sequence[_Made], keys: Sequence[str]
    ) -> ServedMatch:
        """The images into the media store and their rows in one transaction; the round sealed."""
        from imagearena.storage.live import (
            LIVE_SOURCE_PREFIX,
            LiveImage,
            generator_models,
            record_live_images,
            referenced,
        )
        from imagearena.storage.studies import get_study

        store = self.arena.media_store
        fresh = [m.info.sha256 for m in made if m.info.sha256 not in store]
        items = []
        for m, config in zip(made, configs, strict=True):
            path = store.path(m.info.sha256, m.info.format)
            store._write(path, m.image.data)
            record: dict[str, Any] = {"generator": config.name, "seed": job.seed}
            if m.image.seed != job.seed:
                record["backend_seed"] = m.image.seed
            record["params"] = dict(m.image.params)
            text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
            meta = {"backend": config.backend, **({"model": config.model} if config.model else {})}
            items.append(
                LiveImage(config.name, m.info, job.seed, LIVE_SOURCE_PREFIX + redact(text, keys), meta)
            )
        job.generator_s = [m.seconds for m in made]
        try:
            with self.arena.writing() as session, session.begin():
                row = get_study(session, job.study)
                model_ids = {g: self._model_ids[g] for g in job.generators if g in self._model_ids}
                if len(model_ids) < len(items):
                    model_ids = generator_models(session, {item.generator: item.meta for item in items})
                prompt_id, recorded = record_live_images(session, row, job.prompt, items, model_ids)
                epoch = row.epoch
            self._model_ids.update(model_ids)
        except BaseException:
            with self.arena.read_session() as session:
                kept = referenced(session, fresh)
            for m in made:
                if m.info.sha256 in fresh and m.info.sha256 not in kept:
                    store.path(m.info.sha256, m.info.format).unlink(missing_ok=True)
            raise
        return self._seal(
            job, epoch, prompt_id, [r.image_id for r in recorded], [r.model_id for r in recorded], made
        )

    def _seal(
        self,
        job: LiveJob,
        epoch: int,
        prompt_id: int,
        image_ids: Sequence[int],
        model_ids: Sequence[int],
        made: Sequence[_Made],
    ) -> ServedMatch:
        four = job.round_type is not RoundType.PAIR
        signer = self.arena.signer
        token, claims = signer.issue(
            study_id=job.study_id,
            epoch=epoch,
            prompt_id=prompt_id,
            left_image_id=image_ids[0],
            right_image_id=image_ids[1],
            model_a_id=model_ids[0],
            model_b_id=model_ids[1],
            round_type=job.round_type,
            more_images=(image_ids[2], image_ids[3]) if four else (0, 0),
            more_models=(model_ids[2], model_ids[3]) if four else (0, 0),
        )
        images = tuple(
            ServedImage(
                m.info.sha256,
                m.info.format,
                signer.image_name(m.info.sha256, m.info.format, claims.issued_at),
            )
            for m in made
        )
        return ServedMatch(job.study, token, job.prompt, job.round_type, images)

    def close(self) -> None:
        """Stop taking rounds and release the generators (running requests finish on their own)."""
        self._closed = True
        self._coordinator.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for name in list(self._generators):
                self._drop_generator(name)


def start_live_round(arena: Arena, study: str, prompt: str | None = None, voter: str = "") -> LiveJob:
    return arena.live.start(study, prompt, voter=voter)


def live_job(arena: Arena, job_id: str) -> LiveJob:
    return arena.live.job(job_id)
