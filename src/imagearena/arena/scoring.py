"""Scoring a study's images with reward scorers and storing each member's score with the image.

Images that every scorer has already scored are left out, so a rerun does only what is missing. Each
batch's scores are committed as it completes: a stopped run keeps what it scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imagearena.errors import UnknownNameError
from imagearena.media import MediaStore
from imagearena.scorers.io import Scored, ScoreItem, score_items
from imagearena.settings import Settings
from imagearena.types import Scorer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.storage.models import Image

SCORE_LOOKUP_CHUNK = 500
#: Called with (images scored so far, images to score) before the first batch and after each one.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class StudyScores:
    """The outcome of one run: the images scored now (failed ones included) and those left as they were."""

    results: list[Scored]
    already_scored: int


def score_study(
    settings: Settings,
    scorer: Scorer,
    scorer_names: Sequence[str],
    study_name: str,
    *,
    batch_size: int = 16,
    workers: int = 4,
    on_progress: Progress | None = None,
) -> StudyScores:
    """Score the images of ``study_name`` that lack a value from any of ``scorer_names`` (the scorer's
    members, or the scorer itself), storing each member's score. The database must exist already."""
    from imagearena.arena.database import database_session

    with database_session(settings.database_url, create=False) as session:
        return _score_study(
            session,
            MediaStore(settings.media_dir),
            scorer,
            scorer_names,
            study_name,
            batch_size=batch_size,
            workers=workers,
            on_progress=on_progress,
        )


def _score_study(
    session: Session,
    store: MediaStore,
    scorer: Scorer,
    scorer_names: Sequence[str],
    study_name: str,
    *,
    batch_size: int,
    workers: int,
    on_progress: Progress | None,
) -> StudyScores:
    from imagearena.storage import catalog, scores, studies

    images = catalog.list_images(session, studies.get_study(session, study_name))
    done = _scored_by_all(session, images, scorer_names)
    todo = [image for image in images if image.id not in done]
    items = [_score_item(store, image) for image in todo]
    stored = 0

    def store_batch(batch: list[Scored]) -> None:
        nonlocal stored
        for result in batch:
            for name, value in result.components.items() if result.ok else ():
                scores.set_score(session, todo[result.index], name, value)
        session.commit()
        stored += len(batch)
        if on_progress is not None:
            on_progress(stored, len(items))

    if on_progress is not None:
        on_progress(0, len(items))
    results = score_items(scorer, items, batch_size=batch_size, workers=workers, on_batch=store_batch)
    return StudyScores(results=results, already_scored=len(images) - len(todo))


def _scored_by_all(session: Session, images: Sequence[Image], scorer_names: Sequence[str]) -> set[int]:
    """Ids of the images that every one of ``scorer_names`` has scored, asked in chunks: one IN (...)
    list per SCORE_LOOKUP_CHUNK images stays under every database's parameter limit."""
    from imagearena.storage.scores import scores_for

    done: set[int] | None = None
    for name in scorer_names:
        scored = {
            image_id
            for start in range(0, len(images), SCORE_LOOKUP_CHUNK)
            for image_id in scores_for(session, images[start : start + SCORE_LOOKUP_CHUNK], name)
        }
        done = scored if done is None else done & scored
    return done or set()


def _score_item(store: MediaStore, image: Image) -> ScoreItem:
    """The stored file of ``image`` with its prompt; a file missing from the store is scored as an
    unreadable one (reported, and the run goes on)."""
    try:
        path = store.locate(image.sha256)
    except UnknownNameError:
        path = Path("missing") / image.sha256
    return ScoreItem(image=path, prompt=image.prompt.text, key=image.source or image.sha256)
