"""Repository functions for the one write a vote makes: a served match and its vote, inserted together.

Single Core statements that take a Session and never commit, never ORM object loading: they sit on the
arena's hot path. The transaction, and the retry that keeps one bad vote from failing its group commit,
belong to the arena (arena.writer.write_match_votes); what a failure means to a voter is told here,
where the database's exceptions are known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from imagearena.errors import InputError, ServiceUnavailableError
from imagearena.storage.models import Match, Vote

DATABASE_BUSY = "the database is busy: vote again with the same token"


@dataclass(frozen=True, slots=True)
class MatchClaims:
    """What the server promised when it served a match (sealed in its token); model_a is the left
    image's model."""

    study_id: int
    epoch: int
    prompt_id: int
    left_image_id: int
    right_image_id: int
    model_a_id: int
    model_b_id: int
    issued_at: int
    nonce: bytes

    @property
    def nonce_hex(self) -> str:
        return self.nonce.hex()

    @property
    def served_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, UTC)


@dataclass(frozen=True, slots=True)
class MatchVote:
    """A served match (as its token's claims describe it) and the vote cast on it."""

    claims: MatchClaims
    winner: str
    voter: str = ""
    judge: str = "human"
    tstamp: datetime | None = None

    @property
    def nonce(self) -> str:
        """The match's unique nonce as stored: a second vote on one token collides on it."""
        return self.claims.nonce_hex


# Built once: plain Table inserts skip the ORM's per-call statement building on the hot path.
_MATCHES = cast(Table, Match.__table__)
_VOTES = cast(Table, Vote.__table__)
_INSERT_MATCHES = insert(_MATCHES).returning(_MATCHES.c.id, sort_by_parameter_order=True)
_INSERT_VOTES = insert(_VOTES).returning(_VOTES.c.id, sort_by_parameter_order=True)


def insert_match_votes(session: Session, items: Sequence[MatchVote]) -> list[int]:
    """Insert matches and their votes in the caller's transaction and return the vote ids, in order.

    One duplicate nonce (a replayed token) or one value the database refuses fails the whole call.
    """
    now = datetime.now(UTC)
    connection = session.connection()
    match_ids = (
        connection.execute(
            _INSERT_MATCHES,
            [
                {
                    "study_id": it.claims.study_id,
                    "prompt_id": it.claims.prompt_id,
                    "left_image_id": it.claims.left_image_id,
                    "right_image_id": it.claims.right_image_id,
                    "nonce": it.nonce,
                    "voter": it.voter,
                    "served_at": it.claims.served_at,
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
                    "study_id": it.claims.study_id,
                    "epoch": it.claims.epoch,
                    "model_a_id": it.claims.model_a_id,
                    "model_b_id": it.claims.model_b_id,
                    "prompt_id": it.claims.prompt_id,
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
    return [int(v) for v in vote_ids]


def limit_time(session: Session, time_limit_s: float | None) -> None:
    """Bound the current transaction's lock waits and statements on PostgreSQL (reset at its end), so a
    locked table fails the write instead of stalling it; SQLite waits at most its busy timeout."""
    connection = session.connection()
    if time_limit_s is None or connection.dialect.name != "postgresql":
        return
    ms = str(max(1, int(time_limit_s * 1000)))
    connection.exec_driver_sql(
        "SELECT set_config('lock_timeout', %(ms)s, true), set_config('statement_timeout', %(ms)s, true)",
        {"ms": ms},
    )


def is_replay(session: Session, failure: BaseException, nonce: str) -> bool:
    """True when ``failure`` (from a rolled-back insert) was the unique match nonce: the token was
    voted on already."""
    if not isinstance(failure, IntegrityError):
        return False
    return session.scalar(select(Match.id).where(Match.nonce == nonce)) is not None


def is_unavailable(exc: BaseException) -> bool:
    """True for failures of the database rather than of the data: locks, timeouts, lost connections."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def vote_failure(exc: Exception) -> Exception:
    """What a voter hears about their vote's failed write; nothing of it was stored."""
    if is_unavailable(exc):
        return ServiceUnavailableError(DATABASE_BUSY)
    if isinstance(exc, IntegrityError):  # not a replay (that is ConflictError): ids the database lacks
        return InputError(
            "this match names images or models this database does not hold: request a new match"
        )
    if isinstance(exc, StatementError | UnicodeError):  # DataError, an unencodable value...
        return InputError("the database cannot store a value of this vote: check the voter id and vote again")
    return exc
