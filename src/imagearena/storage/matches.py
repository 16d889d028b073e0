"""Repository functions for served matches: the catalog a match is drawn from, and the one write a vote makes.

Everything here is a single Core statement or one short transaction, never ORM object loading: these
functions sit on the arena's hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, func, insert, select
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
    study_id, name, kind, title, description, epoch, created = row
    if created is not None and created.tzinfo is None:  # SQLite returns naive datetimes; we store UTC
        created = created.replace(tzinfo=UTC)
    return StudyRow(study_id, name, kind, title, description, epoch, created)


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


@dataclass(frozen=True, slots=True)
class MatchVote:
    """A served match (as its signed token describes it) and the vote cast on it."""

    study_id: int
    epoch: int
    prompt_id: int
    left_image_id: int
    right_image_id: int
    model_a_id: int
    model_b_id: int
    nonce: str
    served_at: datetime
    winner: str
    voter: str = ""
    judge: str = "human"
    tstamp: datetime | None = None


# Built once: plain Table inserts skip the ORM's per-call statement building on the hot path.
_MATCHES = cast(Table, Match.__table__)
_VOTES = cast(Table, Vote.__table__)
_INSERT_MATCHES = insert(_MATCHES).returning(_MATCHES.c.id, sort_by_parameter_order=True)
_INSERT_VOTES = insert(_VOTES).returning(_VOTES.c.id, sort_by_parameter_order=True)


def insert_match_votes(session: Session, items: Sequence[MatchVote]) -> list[int]:
    """Insert matches and their votes, all in one transaction (committed), and return the vote ids.

    One duplicate nonce (a replayed token) fails the whole batch with IntegrityError after a
    rollback; callers then retry the items one by one with :func:`record_match_vote`.
    """
    now = datetime.now(UTC)
    connection = session.connection()
    try:
        match_ids = (
            connection.execute(
                _INSERT_MATCHES,
                [
                    {
                        "study_id": it.study_id,
                        "prompt_id": it.prompt_id,
                        "left_image_id": it.left_image_id,
                        "right_image_id": it.right_image_id,
                        "nonce": it.nonce,
                        "voter": it.voter,
                        "served_at": it.served_at,
                    }
                    for it in items
                ],
            )
            .scalars()
            .all()
        )
        vote_ids = (
            connection.execute(
                _INSERT_VOTES,
                [
                    {
                        "match_id": match_id,
                        "study_id": it.study_id,
                        "epoch": it.epoch,
                        "model_a_id": it.model_a_id,
                        "model_b_id": it.model_b_id,
                        "prompt_id": it.prompt_id,
                        "winner": it.winner,
                        "judge": it.judge,
                        "voter": it.voter,
                        "tstamp": it.tstamp or now,
                    }
                    for match_id, it in zip(match_ids, items, strict=True)
                ],
            )
            .scalars()
            .all()
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return [int(v) for v in vote_ids]


def record_match_vote(session: Session, item: MatchVote) -> int:
    """Insert one served match and its vote in one transaction and return the vote id.

    The unique match nonce makes a second vote on the same token fail as a whole: ConflictError,
    and nothing of it is stored.
    """
    try:
        return insert_match_votes(session, [item])[0]
    except IntegrityError:
        if session.scalar(select(Match.id).where(Match.nonce == item.nonce)) is not None:
            session.rollback()
            raise ConflictError("this match was already voted on: request a new match") from None
        session.rollback()
        raise


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


def write_match_votes(session_factory, items: Sequence[MatchVote]) -> list[int | Exception]:
    """Write a batch of votes in one transaction; when that fails on a unique nonce (a replay in the
    batch), write them one by one so each gets its own answer. Returns a vote id or the exception
    for every item, in order."""
    with session_factory() as session:
        try:
            return list(insert_match_votes(session, items))
        except IntegrityError:
            if len(items) == 1:
                pass  # fall through to the one-by-one path for the precise error
        except Exception as exc:
            return [exc] * len(items)
    results: list[int | Exception] = []
    for item in items:
        with session_factory() as session:
            try:
                results.append(record_match_vote(session, item))
            except Exception as exc:
                results.append(exc)
    return results
