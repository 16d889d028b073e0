"""Repository functions for served matches: the catalog a match is drawn from, and the one write a vote makes.

Everything here is a single Core statement or one short transaction, never ORM object loading: these
functions sit on the arena's hot path.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, InputError, ServiceUnavailableError, UnknownNameError
from imagearena.storage.models import Image, Installation, Match, Model, Prompt, Study, Vote

SessionFactory = Callable[[], AbstractContextManager[Session]]
DATABASE_BUSY = "the database is busy: vote again with the same token"


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


def insert_match_votes(
    session: Session, items: Sequence[MatchVote], time_limit_s: float | None = None
) -> list[int]:
    """Insert matches and their votes, all in one transaction (committed), and return the vote ids.

    One duplicate nonce (a replayed token) or one value the database refuses fails the whole batch
    after a rollback; callers then retry the items one by one with :func:`record_match_vote`.
    ``time_limit_s`` bounds how long the transaction may wait for locks or run (PostgreSQL; SQLite
    waits at most its busy timeout), so a locked table fails the write instead of stalling it.
    """
    now = datetime.now(UTC)
    connection = session.connection()
    try:
        _limit_time(connection, time_limit_s)
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


def _limit_time(connection: Connection, time_limit_s: float | None) -> None:
    """Bound this transaction's lock waits and statements on PostgreSQL (reset at its end)."""
    if time_limit_s is None or connection.dialect.name != "postgresql":
        return
    ms = str(max(1, int(time_limit_s * 1000)))
    connection.exec_driver_sql(
        "SELECT set_config('lock_timeout', %(ms)s, true), set_config('statement_timeout', %(ms)s, true)",
        {"ms": ms},
    )


def record_match_vote(session: Session, item: MatchVote, time_limit_s: float | None = None) -> int:
    """Insert one served match and its vote in one transaction and return the vote id.

    The unique match nonce makes a second vote on the same token fail as a whole: ConflictError,
    and nothing of it is stored.
    """
    try:
        return insert_match_votes(session, [item], time_limit_s)[0]
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


def write_match_votes(
    session_factory: SessionFactory, items: Sequence[MatchVote], time_limit_s: float | None = None
) -> list[int | Exception]:
    """Write a batch of votes in one transaction and return a vote id or an exception per item, in order.

    When the batch fails because of its items (a replayed token, a value the database refuses), the
    items are written one by one so that only the bad ones fail. When it fails because the database
    is unavailable (a lock held past ``time_limit_s``, a lost connection), nothing was stored and every
    item is answered ServiceUnavailableError: the voter may send the same token again.
    """
    with session_factory() as session:
        try:
            return list(insert_match_votes(session, items, time_limit_s))
        except Exception as exc:
            if is_unavailable(exc):
                return [_answer(exc)] * len(items)
    results: list[int | Exception] = []
    for item in items:
        if results and isinstance(results[-1], ServiceUnavailableError):
            results.append(results[-1])  # the database went away: do not wait for it once per vote
            continue
        with session_factory() as session:
            try:
                results.append(record_match_vote(session, item, time_limit_s))
            except Exception as exc:
                results.append(_answer(exc))
    return results


def is_unavailable(exc: BaseException) -> bool:
    """True for failures of the database rather than of the data: locks, timeouts, lost connections."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def _answer(exc: Exception) -> Exception:
    """What a voter hears about their vote's failed write; nothing of it was stored."""
    if is_unavailable(exc):
        return ServiceUnavailableError(DATABASE_BUSY)
    if isinstance(exc, IntegrityError):  # not a replay (that is ConflictError): ids the database lacks
        return InputError("this match names images or models this database does not hold: request a new match")
    if isinstance(exc, StatementError | UnicodeError):  # DataError, an unencodable value...
        return InputError("the database cannot store a value of this vote: check the voter id and vote again")
    return exc


def installation_id(session: Session) -> str:
    """This database's random id, created on first use: match tokens are bound to it, so a token issued
    for another database (sharing the secret key) is refused instead of voting on the wrong rows."""
    found = session.scalar(select(Installation.installation_id).where(Installation.id == 1))
    if found:
        return found
    try:
        session.execute(
            insert(Installation).values(id=1, installation_id=secrets.token_hex(16), created_at=datetime.now(UTC))
        )
        session.commit()
    except IntegrityError:  # another process created it first: use theirs
        session.rollback()
    return session.scalar(select(Installation.installation_id).where(Installation.id == 1)) or ""
