"""Repository functions for the one write a vote makes: a served match and its decision (a pair's vote
or a four-image round's result), inserted together; and the undo of a decision, appended.

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

from imagearena.errors import ConflictError, InputError, ServiceUnavailableError, UnknownNameError
from imagearena.storage.models import Match, RoundResult, Undo, Vote
from imagearena.types import RoundType

DATABASE_BUSY = "the database is busy: vote again with the same token"


@dataclass(frozen=True, slots=True)
class MatchClaims:
    """What the server promised when it served a match (sealed in its token); model_a is the left
    image's model. A four-image round adds its third and fourth images and models (0 in a pair)."""

    study_id: int
    epoch: int
    prompt_id: int
    left_image_id: int
    right_image_id: int
    model_a_id: int
    model_b_id: int
    issued_at: int
    nonce: bytes
    round_type: RoundType = RoundType.PAIR
    image_3_id: int = 0
    image_4_id: int = 0
    model_3_id: int = 0
    model_4_id: int = 0

    @property
    def nonce_hex(self) -> str:
        return self.nonce.hex()

    @property
    def is_pair(self) -> bool:
        return self.round_type is RoundType.PAIR

    @property
    def image_ids(self) -> tuple[int, ...]:
        """The images shown, in display order."""
        if self.is_pair:
            return self.left_image_id, self.right_image_id
        return self.left_image_id, self.right_image_id, self.image_3_id, self.image_4_id

    @property
    def model_ids(self) -> tuple[int, ...]:
        """The images' models, in display order."""
        if self.is_pair:
            return self.model_a_id, self.model_b_id
        return self.model_a_id, self.model_b_id, self.model_3_id, self.model_4_id

    @property
    def served_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, UTC)


@dataclass(frozen=True, slots=True)
class MatchVote:
    """A served match (as its token's claims describe it) and the decision cast on it: ``winner`` for a
    pair, ``ranks`` (competition ranks in display order) for a four-image round, whose id is then the
    round result's."""

    claims: MatchClaims
    winner: str
    voter: str = ""
    judge: str = "human"
    tstamp: datetime | None = None
    ranks: tuple[int, ...] = ()

    @property
    def nonce(self) -> str:
        """The match's unique nonce as stored: a second vote on one token collides on it."""
        return self.claims.nonce_hex


# Built once: plain Table inserts skip the ORM's per-call statement building on the hot path.
_MATCHES = cast(Table, Match.__table__)
_VOTES = cast(Table, Vote.__table__)
_ROUNDS = cast(Table, RoundResult.__table__)
_INSERT_MATCHES = insert(_MATCHES).returning(_MATCHES.c.id, sort_by_parameter_order=True)
_INSERT_VOTES = insert(_VOTES).returning(_VOTES.c.id, sort_by_parameter_order=True)
_INSERT_ROUNDS = insert(_ROUNDS).returning(_ROUNDS.c.id, sort_by_parameter_order=True)


def _match_row(it: MatchVote) -> dict[str, object]:
    c = it.claims
    return {
        "study_id": c.study_id,
        "prompt_id": c.prompt_id,
        "left_image_id": c.left_image_id,
        "right_image_id": c.right_image_id,
        "image_3_id": None if c.is_pair else c.image_3_id,
        "image_4_id": None if c.is_pair else c.image_4_id,
        "nonce": it.nonce,
        "voter": it.voter,
        "served_at": c.served_at,
    }


def insert_match_votes(session: Session, items: Sequence[MatchVote]) -> list[int]:
    """Insert matches and their decisions in the caller's transaction and return the decision ids (vote
    ids for pairs, round result ids for four-image rounds), in order.

    One duplicate nonce (a replayed token) or one value the database refuses fails the whole call.
    """
    now = datetime.now(UTC)
    connection = session.connection()
    match_ids = connection.execute(_INSERT_MATCHES, [_match_row(it) for it in items]).scalars().all()
    pairs = [(m, it) for m, it in zip(match_ids, items, strict=True) if it.claims.is_pair]
    rounds = [(m, it) for m, it in zip(match_ids, items, strict=True) if not it.claims.is_pair]
    ids: dict[int, int] = {}
    if pairs:
        vote_ids = connection.execute(
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
                for match_id, it in pairs
            ],
        ).scalars()
        ids.update(zip((m for m, _ in pairs), vote_ids, strict=True))
    if rounds:
        round_ids = connection.execute(_INSERT_ROUNDS, [_round_row(m, it, now) for m, it in rounds]).scalars()
        ids.update(zip((m for m, _ in rounds), round_ids, strict=True))
    return [int(ids[m]) for m in match_ids]


def _round_row(match_id: int, it: MatchVote, now: datetime) -> dict[str, object]:
    c = it.claims
    if len(it.ranks) != 4:
        raise InputError("a four-image round's result needs four ranks: send ranks, not winner")
    row: dict[str, object] = {
        "match_id": match_id,
        "study_id": c.study_id,
        "epoch": c.epoch,
        "round_type": c.round_type.value,
        "prompt_id": c.prompt_id,
        "judge": it.judge,
        "voter": it.voter,
        "tstamp": it.tstamp or now,
    }
    for k, (model_id, rank) in enumerate(zip(c.model_ids, it.ranks, strict=True), start=1):
        row[f"model_{k}_id"] = model_id
        row[f"rank_{k}"] = rank
    return row


# --- undo -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision a match token was cast with: a pair vote or a round result, and its match."""

    study_id: int
    match_id: int
    vote_id: int | None
    round_id: int | None
    undone: bool

    @property
    def decision_id(self) -> int:
        return self.vote_id if self.vote_id is not None else self.round_id or 0


def find_decision(session: Session, nonce: str) -> Decision | None:
    """The decision stored for the match with this nonce, or None when it was never voted on."""
    row = session.execute(
        select(Match.id, Match.study_id, Vote.id, RoundResult.id)
        .outerjoin(Vote, Vote.match_id == Match.id)
        .outerjoin(RoundResult, RoundResult.match_id == Match.id)
        .where(Match.nonce == nonce)
    ).first()
    if row is None or (row[2] is None and row[3] is None):
        return None
    match_id, study_id, vote_id, round_id = row
    undone = session.scalar(
        select(Undo.id).where(Undo.vote_id == vote_id if vote_id is not None else Undo.round_id == round_id)
    )
    return Decision(study_id, match_id, vote_id, round_id, undone is not None)


ALREADY_UNDONE = "this decision was already undone: decide on the match the undo gave back"


def insert_undo(session: Session, nonce: str, voter: str = "", at: datetime | None = None) -> Decision:
    """Append the undo of the decision cast with the match of ``nonce``, in the caller's transaction.

    UnknownNameError (404) when that match was never voted on, ConflictError (409) when its decision is
    undone already (also when a concurrent undo won: the unique decision columns of ``undo``)."""
    decision = find_decision(session, nonce)
    if decision is None:
        raise UnknownNameError("no decision was cast with this token: only a voted match can be undone")
    if decision.undone:
        raise ConflictError(ALREADY_UNDONE)
    try:
        with session.begin_nested():
            session.execute(
                insert(Undo).values(
                    study_id=decision.study_id,
                    vote_id=decision.vote_id,
                    round_id=decision.round_id,
                    voter=voter,
                    tstamp=at or datetime.now(UTC),
                )
            )
    except IntegrityError:
        raise ConflictError(ALREADY_UNDONE) from None
    return decision


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
