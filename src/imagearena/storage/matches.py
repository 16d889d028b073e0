"""Repository functions for served matches: the catalog a match is drawn from, and the one write a vote makes.

Everything here is a single Core statement or one short transaction, never ORM object loading: these
functions sit on the arena's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, UnknownNameError
from imagearena.storage.models import Image, Match, Model, Prompt, Study, Vote


@dataclass(frozen=True, slots=True)
class CatalogImage:
    image_id: int
    model_id: int
    model: str
    prompt_id: int
    prompt: str
    sha256: str
    format: str


@dataclass(frozen=True, slots=True)
class StudyRow:
    id: int
    name: str
    kind: str
    title: str
    description: str
    epoch: int
    created_at: datetime


_STUDY_COLUMNS = (
    Study.id,
    Study.name,
    Study.kind,
    Study.title,
    Study.description,
    Study.epoch,
    Study.created_at,
)


def study_row(session: Session, name: str) -> StudyRow:
    """The study called ``name``; UnknownNameError (404) lists the ones that exist."""
    row = session.execute(select(*_STUDY_COLUMNS).where(Study.name == name)).first()
    if row is None:
        known = ", ".join(session.scalars(select(Study.name).order_by(Study.name))) or "none yet"
        raise UnknownNameError(f"unknown study {name!r}; studies: {known}")
    return _study(row)


def _study(row) -> StudyRow:
    created = row[6]
    if created is not None and created.tzinfo is None:  # SQLite returns naive datetimes; we store UTC
        created = created.replace(tzinfo=UTC)
    return StudyRow(*row[:6], created)


def list_study_rows(session: Session) -> list[StudyRow]:
    return [_study(r) for r in session.execute(select(*_STUDY_COLUMNS).order_by(Study.name))]


def study_images(session: Session, study_id: int) -> list[CatalogImage]:
    """Every image of a study with its model and prompt, as bound at import or generation time."""
    stmt = (
        select(Image.id, Image.model_id, Model.name, Image.prompt_id, Prompt.text, Image.sha256, Image.format)
        .join(Model, Model.id == Image.model_id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study_id)
        .order_by(Image.id)
    )
    return [CatalogImage(*row) for row in session.execute(stmt)]


def catalog_version(session: Session, study_id: int) -> tuple[int, int, int]:
    """(epoch, image count, highest image id): changes whenever a cached catalog must be reloaded."""
    epoch = session.scalar(select(Study.epoch).where(Study.id == study_id))
    count, top = session.execute(
        select(func.count(Image.id), func.coalesce(func.max(Image.id), 0)).where(Image.study_id == study_id)
    ).one()
    return int(epoch or 0), int(count), int(top)


def record_match_vote(
    session: Session,
    *,
    study_id: int,
    epoch: int,
    prompt_id: int,
    left_image_id: int,
    right_image_id: int,
    model_a_id: int,
    model_b_id: int,
    nonce: str,
    served_at: datetime,
    winner: str,
    voter: str = "",
    judge: str = "human",
    tstamp: datetime | None = None,
) -> int:
    """Insert the served match and its vote in one transaction and return the vote id.

    The unique match nonce makes a second vote on the same token fail as a whole: ConflictError,
    and nothing of it is stored.
    """
    tstamp = tstamp or datetime.now(UTC)
    try:
        match_id = session.execute(
            insert(Match)
            .values(
                study_id=study_id,
                prompt_id=prompt_id,
                left_image_id=left_image_id,
                right_image_id=right_image_id,
                nonce=nonce,
                voter=voter,
                served_at=served_at,
            )
            .returning(Match.id)
        ).scalar_one()
        vote_id = session.execute(
            insert(Vote)
            .values(
                match_id=match_id,
                study_id=study_id,
                epoch=epoch,
                model_a_id=model_a_id,
                model_b_id=model_b_id,
                prompt_id=prompt_id,
                winner=winner,
                judge=judge,
                voter=voter,
                tstamp=tstamp,
            )
            .returning(Vote.id)
        ).scalar_one()
        session.commit()
    except IntegrityError:
        session.rollback()
        if session.scalar(select(Match.id).where(Match.nonce == nonce)) is not None:
            raise ConflictError("this match was already voted on: request a new match") from None
        raise
    return int(vote_id)


def model_names(session: Session, ids: list[int]) -> dict[int, str]:
    rows = session.execute(select(Model.id, Model.name).where(Model.id.in_(ids)))
    return {model_id: name for model_id, name in rows}


def study_name(session: Session, study_id: int) -> str:
    return session.scalar(select(Study.name).where(Study.id == study_id)) or ""


def study_counts(session: Session, study_id: int, epoch: int) -> tuple[int, int, int, int, int]:
    """(models, prompts, images, votes in the current epoch, archived votes) of a study."""
    models, prompts, images = session.execute(
        select(
            func.count(func.distinct(Image.model_id)),
            func.count(func.distinct(Image.prompt_id)),
            func.count(Image.id),
        ).where(Image.study_id == study_id)
    ).one()
    current = session.scalar(
        select(func.count(Vote.id)).where(Vote.study_id == study_id, Vote.epoch == epoch)
    )
    total = session.scalar(select(func.count(Vote.id)).where(Vote.study_id == study_id))
    return int(models), int(prompts), int(images), int(current or 0), int((total or 0) - (current or 0))
