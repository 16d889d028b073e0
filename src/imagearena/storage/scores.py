"""Repository functions for scores: one value per (image, scorer), replaced when the scorer runs again.

Plain functions that take a Session and never commit: the arena use case owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagearena.storage.models import Image, Score
from imagearena.storage.rows import get_or_create


def set_score(session: Session, image: Image, scorer: str, value: float) -> Score:
    """The score of ``image`` by ``scorer``; a rerun of the same scorer replaces the value."""
    score, created = get_or_create(
        session,
        lambda: session.scalar(select(Score).where(Score.image_id == image.id, Score.scorer == scorer)),
        lambda: Score(image_id=image.id, scorer=scorer, value=float(value)),
    )
    if not created:
        score.value = float(value)
    return score


def scores_for(session: Session, images: Sequence[Image], scorer: str) -> dict[int, float]:
    """``{image_id: value}`` for the images that ``scorer`` has scored."""
    ids = [image.id for image in images]
    if not ids:
        return {}
    rows = session.execute(
        select(Score.image_id, Score.value).where(Score.image_id.in_(ids), Score.scorer == scorer)
    )
    return {image_id: value for image_id, value in rows}
