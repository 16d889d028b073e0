"""Streaming images into a scorer: decode in a thread pool while the model runs, keep memory flat.

A bounded window of decode jobs is in flight at any time (``prefetch`` images), so scoring 10,000
or 10 million files holds only the current batch and the window in memory. PIL decoding and torch
kernels both release the GIL, so decoder threads and the model overlap on separate cores. An
unreadable file becomes a failed row with its reason and the run goes on.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.errors import ImageArenaError, InputError
from imagearena.media import ImageRejected, Limits, read_image
from imagearena.types import CombiningScorer, Scorer, StreamingScorer

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One (image, prompt) pair to score; ``key`` is whatever the caller needs back (a path, an id)."""

    image: str | os.PathLike[str] | Image
    prompt: str
    key: Any = None


@dataclass(slots=True)
class Scored:
    """The outcome for one item: a score with its components, or the reason it was skipped."""

    item: ScoreItem
    index: int
    score: float | None = None
    components: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def decode_image(
    source: str | os.PathLike[str] | Image,
    limits: Limits = Limits(),
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> Image:
    """A fully decoded image, in its own mode: each scorer converts to RGB at the step its reference
    pipeline does (for RGBA and palette images, before or after resizing gives different pixels).
    Read through the package's one decoder (imagearena.media) under ``limits``, which the caller takes
    from settings; ``max_bytes`` and ``max_pixels`` override them."""
    from PIL import Image as PILImage

    if isinstance(source, PILImage.Image):
        return source
    limits = replace(
        limits,
        max_bytes=limits.max_bytes if max_bytes is None else max_bytes,
        max_pixels=limits.max_pixels if max_pixels is None else max_pixels,
    )
    try:
        return read_image(Path(source), limits)
    except ImageRejected as exc:
        if exc.reason in ("not-an-image", "corrupt"):
            raise InputError(f"not a readable image ({exc})") from None
        raise
    except FileNotFoundError:
        raise InputError("file not found") from None
    except OSError as exc:
        raise InputError(f"not a readable image ({exc.strerror or exc})") from None


def iter_decoded(
    items: Iterable[ScoreItem],
    workers: int = 4,
    prefetch: int = 64,
    decode: Callable[[Any], Image] = decode_image,
) -> Iterator[tuple[int, ScoreItem, Image | None, str | None]]:
    """(index, item, image or None, error or None) in input order. ``workers=0`` decodes inline
    (the serial baseline); otherwise at most ``prefetch`` decodes are queued or done-but-unread."""

    def job(item: ScoreItem) -> tuple[Image | None, str | None]:
        try:
            return decode(item.image), None
        except ImageArenaError as exc:
            return None, str(exc)

    if workers <= 0:
        for index, item in enumerate(items):
            yield (index, item, *job(item))
        return
    window: deque[tuple[int, ScoreItem, Future[tuple[Image | None, str | None]]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        for index, item in enumerate(items):
            window.append((index, item, pool.submit(job, item)))
            if len(window) >= max(prefetch, 1):
                i, it, fut = window.popleft()
                yield (i, it, *fut.result())
        while window:
            i, it, fut = window.popleft()
            yield (i, it, *fut.result())


def components_of(scorer: Any, prompts: Sequence[str], images: Sequence[Image]) -> dict[str, list[float]]:
    """Per-member scores: an ensemble reports each member, a single scorer itself."""
    if isinstance(scorer, CombiningScorer):
        return scorer.score_components(prompts, images)
    return {scorer.name: scorer.score(prompts, images)}


def score_stream(
    scorer: Any,
    items: Iterable[ScoreItem],
    batch_size: int = 16,
    workers: int = 4,
    prefetch: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    limits: Limits = Limits(),
) -> Iterator[Scored]:
    """Score items as they decode, yielding results in input order, failed items included.

    ``limits`` (from settings: ``Limits.from_settings``) bound what the decoder accepts.

    A scorer with ``prepare_image`` (the CLIP-family ones) has its preprocessing run in the decoder
    threads as well, so the model's thread only stacks ready arrays.

    ``score`` is left empty for ensembles whose normalisation needs the whole run (see
    ``ensemble.Ensemble.combine``); single scorers get their score directly.
    """
    prefetch = prefetch if prefetch is not None else max(2 * batch_size, 4 * workers)
    pending: list[Scored] = []
    images: list[Image] = []

    def flush() -> Iterator[Scored]:
        good = [r for r in pending if r.ok]
        if good:
            comps = components_of(scorer, [r.item.prompt for r in good], images)
            for j, r in enumerate(good):
                r.components = {name: float(values[j]) for name, values in comps.items()}
                if len(r.components) == 1 and not isinstance(scorer, CombiningScorer):
                    r.score = next(iter(r.components.values()))
        yield from pending
        if on_progress is not None:
            on_progress(len(pending))
        pending.clear()
        images.clear()

    prepare = scorer.prepare_image if isinstance(scorer, StreamingScorer) else None

    def decode(source: Any) -> Any:
        image = decode_image(source, limits)
        return prepare(image) if prepare is not None else image

    for index, item, image, error in iter_decoded(items, workers=workers, prefetch=prefetch, decode=decode):
        pending.append(Scored(item=item, index=index, error=error))
        if image is not None:
            images.append(image)
        if len(images) >= batch_size:
            yield from flush()
    yield from flush()


def score_items(
    scorer: Scorer,
    items: Sequence[ScoreItem],
    *,
    batch_size: int = 16,
    workers: int = 4,
    on_batch: Callable[[list[Scored]], None] | None = None,
    limits: Limits = Limits(),
) -> list[Scored]:
    """Every item's outcome in input order, with an ensemble's score combined over the whole run.

    ``on_batch`` sees each batch of outcomes as soon as it is scored: to store it, or to count it."""
    results: list[Scored] = []
    batch: list[Scored] = []
    for scored in score_stream(scorer, items, batch_size=batch_size, workers=workers, limits=limits):
        results.append(scored)
        batch.append(scored)
        if len(batch) >= batch_size:
            if on_batch is not None:
                on_batch(batch)
            batch = []
    if batch and on_batch is not None:
        on_batch(batch)
    if isinstance(scorer, CombiningScorer):
        combine_run(scorer, results)
    return results


def combine_run(scorer: CombiningScorer, results: Sequence[Scored]) -> None:
    """Set each scored item's combined score from the members' scores of the whole run."""
    ok = [r for r in results if r.ok]
    if not ok:
        return
    names = list(ok[0].components)
    combined = scorer.combine({name: [r.components[name] for r in ok] for name in names})
    for r, value in zip(ok, combined, strict=True):
        r.score = value


def prepared_batches(
    images: Sequence[Any], batch_size: int, prepare: Callable[[Any], Any] | None = None
) -> Iterator[list[Any]]:
    """``images`` in batches of ``batch_size``, each passed through ``prepare`` (a scorer's
    ``prepare_image``: decode a path, preprocess) by the streaming decoder: when there is more than one
    batch, a decoder thread prepares the next batch while the caller's model runs the current one. An
    image that cannot be read raises its InputError."""
    items = [ScoreItem(image=image, prompt="") for image in images]
    workers = 1 if len(items) > batch_size else 0
    batch: list[Any] = []
    for _, _, prepared, error in iter_decoded(
        items, workers=workers, prefetch=batch_size, decode=prepare or _as_is
    ):
        if error is not None:
            raise InputError(error)
        batch.append(prepared)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _as_is(image: Any) -> Any:
    return image
