"""`imagearena bench`: prompts x generators -> images -> scores -> an automatic leaderboard, stored as
a study of kind ``bulk``.

A run is cut into units keyed by (study, prompt, generator, seed) for an image and by that image and a
scorer for a score. Images go through the generation use case (imagearena.arena.generation: the
content store, then short transactions), scores are committed batch by batch, so a killed run keeps
what it finished and a rerun does only what is missing. A failed unit is tried again up to
``retries`` more times, then reported, and the run goes on.

Where the work runs is a :class:`Backend`: :class:`LocalBackend` in this process, or
imagearena.arena.ray_runner's actors on a Ray cluster; both write through the same storage.

The leaderboard (imagearena.ratings.bulk_stats) is derived from the stored scores whenever it is asked
for; the study's manifest (prompt categories, generators, scorers of its runs) is kept as JSON in the
study's private ``source`` column.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from imagearena.arena import generation
from imagearena.errors import ImageArenaError, InputError
from imagearena.media import Limits, MediaStore
from imagearena.ratings.bulk_stats import ImageScore, ScorerBoard, generator_means, prompt_means, scorer_board
from imagearena.types import GeneratedImage, GenerationRequest, Generator, StudyKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.generators.config import GeneratorConfig
    from imagearena.prompts.loaders import Prompt, PromptSet
    from imagearena.prompts.retrieval import PromptIndex
    from imagearena.settings import Settings
    from imagearena.storage.bulk import ImageRow

#: Metadata keys read as a prompt's category, compared without case (PartiPrompts, DrawBench).
CATEGORY_KEYS = ("category",)
DEFAULT_RETRIES = 2
DEFAULT_BATCH = 16
#: Called with (stage, units done, units to do) before a stage's first unit and after each one.
Progress = Callable[[str, int, int], None]
GENERATE = "generate"
SCORE = "score"


# --- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkPrompt:
    text: str
    category: str | None = None


@dataclass(frozen=True)
class BulkPlan:
    """What a run makes: every prompt answered by every generator ``images_per_prompt`` times (image k
    with seed ``seed + k``), and every image scored by every scorer."""

    study: str
    prompts: tuple[BulkPrompt, ...]
    generators: tuple[GeneratorConfig, ...]
    scorers: tuple[str, ...]
    images_per_prompt: int = 1
    seed: int = 0
    source: str = ""

    @property
    def images(self) -> int:
        return len(self.prompts) * len(self.generators) * self.images_per_prompt

    @property
    def scorer_calls(self) -> int:
        """Scores to compute: one per image and scorer (a scorer sees images in batches)."""
        return self.images * len(self.scorers)

    def units(self) -> list[generation.Unit]:
        return generation.plan(
            [g.name for g in self.generators],
            [p.text for p in self.prompts],
            self.images_per_prompt,
            self.seed,
        )

    def describe(self) -> list[str]:
        """The plan in a few lines, as `--dry-run` prints it."""
        categories = sorted({p.category for p in self.prompts if p.category})
        lines = [
            f"Study {self.study} (bulk): {len(self.prompts)} prompts"
            + (f" from {self.source}" if self.source else "")
            + (f", {len(categories)} categories" if categories else ""),
            f"Generators ({len(self.generators)}): {', '.join(g.name for g in self.generators)}",
            f"Images: {len(self.prompts)} prompts x {len(self.generators)} generators x "
            f"{self.images_per_prompt} per prompt = {self.images} (seeds {self.seed} to "
            f"{self.seed + self.images_per_prompt - 1})",
            f"Scorers ({len(self.scorers)}): {', '.join(self.scorers)}",
            f"Scorer calls: {self.images} images x {len(self.scorers)} "
            f"{'scorer' if len(self.scorers) == 1 else 'scorers'} = {self.scorer_calls}",
        ]
        return lines


def category_of(prompt: Prompt) -> str | None:
    for key, value in prompt.metadata.items():
        if key.lower() in CATEGORY_KEYS and value is not None and str(value).strip():
            return str(value).strip()
    return None


def select_prompts(
    prompt_set: PromptSet,
    *,
    sample: int | None = None,
    seed: int = 0,
    topics: Sequence[str] | None = None,
    k: int = 5,
    index: PromptIndex | None = None,
) -> list[BulkPrompt]:
    """The run's prompts from ``prompt_set``, each text once: with ``topics``, the ``k`` closest to each
    topic (``index`` opened on the set); then, with ``sample``, that many of them drawn with ``seed``."""
    chosen: list[Prompt]
    if topics:
        if index is None:
            raise InputError("choosing prompts by topic needs the set's index")
        chosen = [m.prompt for matches in index.search(topics, k) for m in matches]
    else:
        chosen = list(prompt_set.prompts)
    unique: dict[str, Prompt] = {}
    for prompt in chosen:
        unique.setdefault(prompt.text.strip(), prompt)
    picked = list(unique.values())
    if sample is not None:
        if sample < 1:
            raise InputError(f"--sample must be at least 1, not {sample}")
        if sample < len(picked):
            rows = sorted(random.Random(seed).sample(range(len(picked)), sample))
            picked = [picked[i] for i in rows]
    return [BulkPrompt(p.text.strip(), category_of(p)) for p in picked]


def make_plan(
    study: str,
    prompts: Sequence[BulkPrompt],
    generators: Sequence[GeneratorConfig],
    scorers: Sequence[str],
    *,
    images_per_prompt: int = 1,
    seed: int = 0,
    source: str = "",
) -> BulkPlan:
    """A checked plan: a valid study name, known scorers, generator names that can be model names."""
    from imagearena.scorers import scorers as registry
    from imagearena.storage.studies import check_study_name

    check_study_name(study)
    if not prompts:
        raise InputError("no prompt to run: check --prompts, --topics and --sample")
    if not generators:
        raise InputError("name at least one generator: --generator NAME")
    names = list(dict.fromkeys(s.strip() for s in scorers if s.strip()))
    if not names:
        raise InputError("name at least one scorer: --scorer NAME[,NAME...]")
    for name in names:
        registry.factory(name)  # an unknown name fails now, listing the known ones
    generation.check_generator_names(generators)
    texts = generation.clean_prompts(p.text for p in prompts)
    category = {p.text.strip(): p.category for p in prompts}
    plan = BulkPlan(
        study,
        tuple(BulkPrompt(t, category.get(t)) for t in texts),
        tuple(generators),
        tuple(names),
        images_per_prompt,
        seed,
        source,
    )
    plan.units()  # checks the image count and the seeds
    return plan


def stored_units(settings: Settings, plan: BulkPlan) -> tuple[int, int]:
    """(images, scores) of the plan already stored, what a rerun would skip: (0, 0) before the first run.
    Creates nothing: a database that does not exist yet is the error it is for any command reading one."""
    from imagearena.arena.database import database_session
    from imagearena.storage.bulk import scored_ids, study_images
    from imagearena.storage.studies import find_study

    units = {(u.generator, u.prompt, u.seed) for u in plan.units()}
    with database_session(settings.database_url, create=False) as session:
        row = find_study(session, plan.study)
        if row is None:
            return 0, 0
        mine = [im for im in study_images(session, row.id) if (im.generator, im.prompt, im.seed) in units]
        ids = {im.id for im in mine}
        scores = sum(len(ids & scored_ids(session, row.id, name)) for name in plan.scorers)
        return len(mine), scores


# --- where the work runs ------------------------------------------------------------------------------


class Backend(Protocol):
    """Runs a bulk plan's work: builds the generators (what generation.run asks) and scores batches of
    stored images. ``parallel`` batches of one scorer may be in flight at once."""

    parallel: int

    def make_generator(self, config: GeneratorConfig) -> Generator: ...

    def score(self, scorer: str, images: Sequence[ImageRow]) -> list[float]:
        """One value per image, in order; raises when the batch cannot be scored."""
        ...

    def close(self) -> None: ...


class LocalBackend:
    """Everything in this process: each scorer is built once, on first use, and kept."""

    parallel = 1

    def __init__(
        self,
        store: MediaStore,
        *,
        scorer_options: Mapping[str, Any] | None = None,
        limits: Limits = Limits(),
        decode_workers: int = 2,
    ) -> None:
        self.store = store
        self.scorer_options = dict(scorer_options or {})
        self.limits = limits
        self.decode_workers = decode_workers
        self._scorers: dict[str, Any] = {}

    def make_generator(self, config: GeneratorConfig) -> Generator:
        from imagearena.generators.config import create

        return create(config)

    def scorer(self, name: str) -> Any:
        if name not in self._scorers:
            from imagearena.scorers.ensemble import build_scorer

            self._scorers[name] = build_scorer(name, **self.scorer_options)
        return self._scorers[name]

    def score(self, scorer: str, images: Sequence[ImageRow]) -> list[float]:
        from imagearena.scorers.io import ScoreItem, score_items

        items = [ScoreItem(image=self.store.locate(im.sha256), prompt=im.prompt, key=im.id) for im in images]
        results = score_items(
            self.scorer(scorer),
            items,
            batch_size=max(1, len(items)),
            workers=self.decode_workers,
            limits=self.limits,
        )
        for result in results:
            if not result.ok:
                raise InputError(result.error or "the image could not be scored")
        return [float(r.score) if r.score is not None else math.nan for r in results]

    def close(self) -> None:
        self._scorers.clear()


# --- the run -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitFailure:
    """A unit that failed every try: an image (scorer None) or a score; ``units`` > 1 when a whole
    generator could not run."""

    stage: str
    generator: str
    message: str
    prompt: str | None = None
    seed: int | None = None
    scorer: str | None = None
    units: int = 1


@dataclass
class BulkReport:
    study: str
    generated: int = 0
    already_generated: int = 0
    scored: int = 0
    already_scored: int = 0
    failures: list[UnitFailure] = field(default_factory=list)
    boards: list[ScorerBoard] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(f.units for f in self.failures)


def run_bulk(
    settings: Settings,
    plan: BulkPlan,
    *,
    backend: Backend | None = None,
    retries: int = DEFAULT_RETRIES,
    batch_size: int = DEFAULT_BATCH,
    scorer_options: Mapping[str, Any] | None = None,
    ray_address: str | None = None,
    ray_workers: int | None = None,
    on_progress: Progress | None = None,
    on_failure: Callable[[UnitFailure], None] | None = None,
) -> BulkReport:
    """Run ``plan`` into its study (created as a bulk study when missing): the images still missing,
    then the scores still missing, then the leaderboard of the plan's scorers. With ``ray_address``
    the work runs on that Ray cluster's actors (``ray_workers`` per generator and per scorer)."""
    from imagearena.arena.database import database_session

    if retries < 0 or retries > 100:
        raise InputError(f"--retries must be 0 to 100, not {retries}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, not {batch_size}")
    store = MediaStore(settings.media_dir)
    own = backend is None
    limits = Limits.from_settings(settings)
    if backend is None and ray_address:
        from imagearena.arena.ray_runner import RayBackend

        backend = RayBackend(
            ray_address, plan, store, workers=ray_workers, scorer_options=scorer_options, limits=limits
        )
    backend = backend or LocalBackend(store, scorer_options=scorer_options, limits=limits)
    report = BulkReport(plan.study)

    def failed(failure: UnitFailure) -> None:
        report.failures.append(failure)
        if on_failure is not None:
            on_failure(failure)

    try:
        with database_session(settings.database_url) as session:
            study_id = _open_study(session, plan)
            _generate(session, store, settings, plan, backend, retries, report, on_progress, failed)
            for scorer in plan.scorers:
                _score(session, study_id, scorer, backend, batch_size, retries, report, on_progress, failed)
            report.boards = _boards(session, study_id, plan.scorers)
    finally:
        if own:
            backend.close()
    return report


def _open_study(session: Session, plan: BulkPlan) -> int:
    """The plan's study, created as a bulk study; its manifest gains this plan's prompts' categories."""
    from imagearena.arena.prompt_sets import STORED_PREFIX
    from imagearena.storage.bulk import set_manifest
    from imagearena.storage.catalog import prompt_digest
    from imagearena.storage.prompt_sets import attach_prompt_set
    from imagearena.storage.studies import get_or_create_study, study_source

    row = get_or_create_study(session, plan.study, kind=StudyKind.BULK)
    if row.kind != StudyKind.BULK:
        session.rollback()
        raise InputError(
            f"study {plan.study!r} is a {row.kind} study: give the bulk run a study of its own (--study NAME)"
        )
    manifest = read_manifest(study_source(session, row.id))
    categories = manifest.setdefault("categories", {})
    for prompt in plan.prompts:
        if prompt.category:
            categories[prompt_digest(prompt.text)] = prompt.category
    for key, values in (("generators", [g.name for g in plan.generators]), ("scorers", list(plan.scorers))):
        manifest[key] = list(dict.fromkeys([*manifest.get(key, []), *values]))
    if plan.source:
        manifest["prompts"] = list(dict.fromkeys([*manifest.get("prompts", []), plan.source]))
    if plan.source.startswith(STORED_PREFIX):  # a stored set: attached to the study
        attach_prompt_set(session, row.id, plan.source[len(STORED_PREFIX) :])
    set_manifest(session, row.id, json.dumps(manifest, sort_keys=True, ensure_ascii=False))
    session.commit()
    return row.id


def read_manifest(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _generate(
    session: Session,
    store: MediaStore,
    settings: Settings,
    plan: BulkPlan,
    backend: Backend,
    retries: int,
    report: BulkReport,
    on_progress: Progress | None,
    failed: Callable[[UnitFailure], None],
) -> None:
    """The images still missing, through the generation use case; failed ones are tried again (the
    sink skips what is stored, so a retry round asks only for what failed)."""
    units = plan.units()
    sink = generation.StudySink(
        session,
        store,
        plan.study,
        limits=Limits.from_settings(settings),
        secrets=generation.secrets_of(plan.generators),
        prompt_source=f"bench:{plan.source}"[:200] if plan.source else "bench",
    )
    report.already_generated = sum(sink.has(u) for u in units)
    done = 0
    total = len(units) - report.already_generated
    if on_progress is not None:
        on_progress(GENERATE, 0, total)

    def step(unit: generation.Unit, ok: bool) -> None:
        nonlocal done
        done += ok
        if on_progress is not None:
            on_progress(GENERATE, done, total)

    last: list[generation.Failure] = []
    for _ in range(retries + 1):
        result = generation.run(
            list(plan.generators),
            units,
            sink,
            on_done=step,
            make=lambda c: _Guarded(backend.make_generator(c)),
        )
        report.generated += result.generated
        last = result.failures
        if not last:
            break
    for f in last:
        failed(UnitFailure(GENERATE, f.generator, f.message, f.prompt, f.seed, units=f.images))


class _Guarded:
    """A generator whose unexpected errors (a backend's bug, a worker that died) are that request's
    failure, as a generator's own errors are, instead of the end of the run."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.name = generator.name

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        from imagearena.generators.errors import GeneratorError

        try:
            return self.generator.generate(request)
        except ImageArenaError:
            raise
        except Exception as exc:
            raise GeneratorError(f"generator {self.name!r} failed: {_message(exc)}") from None

    def close(self) -> None:
        close = getattr(self.generator, "close", None)
        if callable(close):
            close()


def _score(
    session: Session,
    study_id: int,
    scorer: str,
    backend: Backend,
    batch_size: int,
    retries: int,
    report: BulkReport,
    on_progress: Progress | None,
    failed: Callable[[UnitFailure], None],
) -> None:
    """Every image of the study that ``scorer`` has not scored, in batches committed as they finish."""
    from imagearena.storage.bulk import images_by_id, scored_ids, study_images
    from imagearena.storage.scores import set_score

    images = study_images(session, study_id)
    done_ids = scored_ids(session, study_id, scorer)
    todo = [im for im in images if im.id not in done_ids]
    session.commit()
    report.already_scored += len(images) - len(todo)
    stage = f"{SCORE} {scorer}"
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    finished = 0
    if on_progress is not None:
        on_progress(stage, 0, len(todo))
    for batch, outcomes in _scored_batches(backend, scorer, batches, retries):
        stored = 0
        try:
            rows = images_by_id(
                session,
                [image.id for image, (value, _) in zip(batch, outcomes, strict=True) if value is not None],
            )
            for image, (value, error) in zip(batch, outcomes, strict=True):
                if error is None and value is not None:
                    set_score(session, rows[image.id], scorer, value)
                    stored += 1
            session.commit()
        except BaseException:
            session.rollback()
            raise
        report.scored += stored
        for image, (_, error) in zip(batch, outcomes, strict=True):
            if error is not None:
                failed(UnitFailure(SCORE, image.generator, error, image.prompt, image.seed, scorer))
        finished += len(batch)
        if on_progress is not None:
            on_progress(stage, finished, len(todo))


Outcome = tuple[float | None, str | None]


def _scored_batches(
    backend: Backend, scorer: str, batches: Sequence[Sequence[ImageRow]], retries: int
) -> Iterator[tuple[Sequence[ImageRow], list[Outcome]]]:
    """(batch, one (value, error) per image) as batches finish, up to ``backend.parallel`` at a time."""
    if backend.parallel <= 1 or len(batches) <= 1:
        for batch in batches:
            yield batch, _attempt(backend, scorer, batch, retries)
        return
    pool = ThreadPoolExecutor(backend.parallel, thread_name_prefix=f"score-{scorer}")
    try:
        pending: dict[Future[list[Outcome]], Sequence[ImageRow]] = {}
        queue = iter(batches)
        for batch in queue:
            pending[pool.submit(_attempt, backend, scorer, batch, retries)] = batch
            if len(pending) >= 2 * backend.parallel:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                batch = pending.pop(future)
                yield batch, future.result()
                following = next(queue, None)
                if following is not None:
                    pending[pool.submit(_attempt, backend, scorer, following, retries)] = following
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _attempt(backend: Backend, scorer: str, batch: Sequence[ImageRow], retries: int) -> list[Outcome]:
    """Score ``batch``, trying again up to ``retries`` times; a batch that still fails is scored image
    by image, so one bad image does not take its neighbours down. A non-finite value is a failure."""
    error = ""
    for _ in range(retries + 1):
        try:
            values = backend.score(scorer, batch)
        except Exception as exc:  # a scorer's own error (a crash, a device out of memory) is the unit's
            error = _message(exc)
            continue
        if len(values) != len(batch):
            error = f"scorer {scorer!r} answered {len(values)} values for {len(batch)} images"
            continue
        return [_checked(v) for v in values]
    if len(batch) == 1:
        return [(None, error)]
    return [out for image in batch for out in _attempt(backend, scorer, [image], 0)]


def _checked(value: float) -> Outcome:
    value = float(value)
    return (value, None) if math.isfinite(value) else (None, f"the scorer gave a non-finite value ({value})")


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, ImageArenaError) else f"{type(exc).__name__}: {text}".rstrip(": ")


# --- the leaderboard -------------------------------------------------------------------------------------


def _boards(session: Session, study_id: int, scorers: Sequence[str] | None) -> list[ScorerBoard]:
    from imagearena.storage.bulk import study_scores
    from imagearena.storage.catalog import prompt_digest
    from imagearena.storage.studies import study_source

    rows = study_scores(session, study_id, scorers)
    by_digest = read_manifest(study_source(session, study_id)).get("categories", {})
    names = list(scorers) if scorers is not None else sorted({r.scorer for r in rows})
    scores: dict[str, list[ImageScore]] = {name: [] for name in names}
    prompts: set[str] = set()
    for r in rows:
        scores.setdefault(r.scorer, []).append(ImageScore(r.generator, r.prompt, r.value))
        prompts.add(r.prompt)
    categories = {p: by_digest[prompt_digest(p)] for p in prompts if prompt_digest(p) in by_digest}
    return [scorer_board(name, scores[name], categories or None) for name in names if scores[name]]


def bulk_leaderboard(
    settings: Settings, study: str, scorers: Sequence[str] | None = None
) -> list[ScorerBoard]:
    """The automatic leaderboard of ``study`` from its stored scores: ``scorers``, or every scorer."""
    from imagearena.arena.database import database_session
    from imagearena.storage.studies import get_study

    with database_session(settings.database_url, create=False) as session:
        return _boards(session, get_study(session, study).id, scorers)


def stored_bulk_leaderboard(read_session: Callable[[], Any], study: str) -> list[ScorerBoard]:
    """The same from a running server's read session (``arena.read_session``), for the study page."""
    from imagearena.storage.studies import get_study

    with read_session() as session:
        return _boards(session, get_study(session, study).id, None)


# --- the validator flow --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValidatorRow:
    """A generator's mean reward (the ensemble's combined score) and each member's mean score, both the
    mean over prompts of the mean over that prompt's images, on ``images`` images scored by every member."""

    generator: str
    reward: float
    components: dict[str, float]
    images: int


def validator_rewards(
    settings: Settings,
    plan: BulkPlan,
    spec: str,
    *,
    normalize: str = "auto",
    reference_stats: str | None = None,
) -> list[ValidatorRow]:
    """The reward of each of the plan's generators on the plan's prompts: the members of ``spec``
    (``a,b`` or ``a=0.7,b=0.3``) read from the stored scores and combined as `imagearena score` combines
    an ensemble (normalised over this run's images), best first."""
    from imagearena.arena.database import database_session
    from imagearena.scorers.ensemble import Ensemble, load_reference_stats, parse_spec
    from imagearena.storage.bulk import study_scores
    from imagearena.storage.studies import get_study

    members = parse_spec(spec)
    names = [name for name, _ in members]
    wanted_generators = {g.name for g in plan.generators}
    wanted_prompts = {p.text for p in plan.prompts}
    with database_session(settings.database_url, create=False) as session:
        rows = study_scores(session, get_study(session, plan.study).id, names)
    values: dict[int, dict[str, float]] = {}
    owner: dict[int, tuple[str, str]] = {}
    for r in rows:
        if r.generator in wanted_generators and r.prompt in wanted_prompts:
            values.setdefault(r.image_id, {})[r.scorer] = r.value
            owner[r.image_id] = (r.generator, r.prompt)
    complete = [i for i in sorted(values) if len(values[i]) == len(names)]
    if not complete:
        return []
    combined: list[float] = [values[i][names[0]] for i in complete]
    if len(members) > 1 or "=" in spec:
        ensemble = Ensemble(
            dict.fromkeys(names),
            [w for _, w in members],
            normalize=normalize,
            stats=load_reference_stats(reference_stats),
        )
        combined = ensemble.combine({n: [values[i][n] for i in complete] for n in names})

    def means(of: Sequence[float]) -> dict[str, Any]:
        scores = [ImageScore(owner[i][0], owner[i][1], v) for i, v in zip(complete, of, strict=True)]
        return dict(generator_means(prompt_means(scores)))

    reward = means(combined)
    parts = {n: means([values[i][n] for i in complete]) for n in names}
    out = [
        ValidatorRow(g, reward[g].mean, {n: parts[n][g].mean for n in names}, reward[g].images)
        for g in reward
    ]
    return sorted(out, key=lambda row: (-row.reward, row.generator))
