"""Repository functions for bulk runs: a bulk study's manifest (what its runs asked for) and the
study's images with their scores, as plain rows. Functions take a Session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from imagearena.storage.models import Image, Model, Prompt, Score, Study


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One image of a study: what a scoring unit needs (its file and prompt) and what keys it."""

    id: int
    generator: str
    prompt: str
    seed: int | None
    sha256: str


@dataclass(frozen=True, slots=True)
class ScoreRow:
    scorer: str
    generator: str
    prompt: str
    value: float
    image_id: int


def set_manifest(session: Session, study_id: int, text: str) -> None:
    """Store a bulk study's manifest (JSON text) in the study's ``source`` column, which no listing shows."""
    session.execute(update(Study).where(Study.id == study_id).values(source=text))


def study_images(session: Session, study_id: int) -> list[ImageRow]:
    """Every image of the study with its generator (model) name, prompt and seed, by id."""
    rows = session.execute(
        select(Image.id, Model.name, Prompt.text, Image.seed, Image.sha256)
        .join(Model, Model.id == Image.model_id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study_id)
        .order_by(Image.id)
    )
    return [ImageRow(*row) for row in rows]


def scored_ids(session: Session, study_id: int, scorer: str) -> set[int]:
    """Ids of the study's images that ``scorer`` has scored."""
    stmt = (
        select(Score.image_id)
        .join(Image, Image.id == Score.image_id)
        .where(Image.study_id == study_id, Score.scorer == scorer)
    )
    return set(session.scalars(stmt))


def study_scores(session: Session, study_id: int, scorers: Sequence[str] | None = None) -> list[ScoreRow]:
    """The study's scores with each image's generator and prompt (every scorer when ``scorers`` is None)."""
    stmt = (
        select(Score.scorer, Model.name, Prompt.text, Score.value, Score.image_id)
        .join(Image, Image.id == Score.image_id)
        .join(Model, Model.id == Image.model_id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study_id)
        .order_by(Score.scorer, Image.id)
    )
    if scorers is not None:
        stmt = stmt.where(Score.scorer.in_(list(scorers)))
    return [ScoreRow(*row) for row in session.execute(stmt.execution_options(yield_per=10000))]


def images_by_id(session: Session, ids: Sequence[int]) -> dict[int, Image]:
    """The images with these ids, in one query (a batch of scores is stored against them)."""
    if not ids:
        return {}
    return {image.id: image for image in session.scalars(select(Image).where(Image.id.in_(list(ids))))}
