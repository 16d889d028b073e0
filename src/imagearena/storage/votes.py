"""Repository functions for votes: battle logs, history, exports, rating snapshots and resets.

Votes are facts: appended by storage.matches.record_match_vote, never updated or deleted. A reset
bumps the study's epoch, so the older votes stay (archived) and the current leaderboards skip them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, aliased

from imagearena.storage.models import Image, Match, Model, Prompt, RatingSnapshot, Study, Vote


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every timestamp we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class VoteRecord:
    """One vote in battle-log form (the field names of the public arena logs)."""

    id: int
    model_a: str
    model_b: str
    winner: str
    tstamp: datetime
    judge: str
    voter: str
    epoch: int
    prompt: str | None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    id: int
    model_a: str
    model_b: str
    winner: str
    tstamp: datetime
    judge: str
    prompt: str | None
    left_sha256: str | None
    left_format: str | None
    right_sha256: str | None
    right_format: str | None


@dataclass(frozen=True, slots=True)
class SnapshotPoint:
    model: str
    rating: float
    lower: float | None
    upper: float | None
    votes: int
    at: datetime


_A, _B = aliased(Model), aliased(Model)


def _vote_query(study_id: int, epoch: int | None, since: datetime | None, until: datetime | None):
    stmt = (
        select(
            Vote.id,
            _A.name,
            _B.name,
            Vote.winner,
            Vote.tstamp,
            Vote.judge,
            Vote.voter,
            Vote.epoch,
            Prompt.text,
        )
        .join(_A, _A.id == Vote.model_a_id)
        .join(_B, _B.id == Vote.model_b_id)
        .outerjoin(Prompt, Prompt.id == Vote.prompt_id)
        .where(Vote.study_id == study_id)
    )
    if epoch is not None:
        stmt = stmt.where(Vote.epoch == epoch)
    if since is not None:
        stmt = stmt.where(Vote.tstamp >= since)
    if until is not None:
        stmt = stmt.where(Vote.tstamp < until)
    return stmt


def iter_votes(
    session: Session,
    study_id: int,
    epoch: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[VoteRecord]:
    """Votes in the order they were cast (TrueSkill and online Elo depend on it); epoch None = all epochs."""
    stmt = _vote_query(study_id, epoch, since, until).order_by(Vote.tstamp, Vote.id)
    for vote_id, model_a, model_b, winner, tstamp, judge, voter, epoch_, prompt in session.execute(
        stmt.execution_options(yield_per=2000)
    ):
        yield VoteRecord(vote_id, model_a, model_b, winner, as_utc(tstamp), judge, voter, epoch_, prompt)


def battle_columns_after(
    session: Session, study_id: int, epoch: int, after_id: int
) -> tuple[list[str], list[str], list[str], list[float], int]:
    """Votes of an epoch with an id above ``after_id`` as columns (model_a, model_b, winner, tstamp in
    seconds) plus the highest id seen. Votes are append-only, so a cached battle log only ever needs
    this tail."""
    stmt = (
        select(Vote.id, _A.name, _B.name, Vote.winner, Vote.tstamp)
        .join(_A, _A.id == Vote.model_a_id)
        .join(_B, _B.id == Vote.model_b_id)
        .where(Vote.study_id == study_id, Vote.epoch == epoch, Vote.id > after_id)
        .order_by(Vote.tstamp, Vote.id)
    )
    a: list[str] = []
    b: list[str] = []
    w: list[str] = []
    t: list[float] = []
    top = after_id
    for vote_id, model_a, model_b, winner, tstamp in session.execute(stmt.execution_options(yield_per=5000)):
        a.append(model_a)
        b.append(model_b)
        w.append(winner)
        t.append(as_utc(tstamp).timestamp())
        top = max(top, vote_id)
    return a, b, w, t, top


def vote_state(session: Session, study_id: int, epoch: int) -> tuple[int, int]:
    """(number of votes, highest vote id) in an epoch: a cheap key for caching derived leaderboards."""
    count, top = session.execute(
        select(func.count(Vote.id), func.coalesce(func.max(Vote.id), 0)).where(
            Vote.study_id == study_id, Vote.epoch == epoch
        )
    ).one()
    return int(count), int(top)


def recent_votes(session: Session, study_id: int, epoch: int | None, limit: int = 50) -> list[HistoryItem]:
    """The newest votes first, with the images that were shown (for thumbnails)."""
    left, right = aliased(Image), aliased(Image)
    stmt = (
        select(
            Vote.id,
            _A.name,
            _B.name,
            Vote.winner,
            Vote.tstamp,
            Vote.judge,
            Prompt.text,
            left.sha256,
            left.format,
            right.sha256,
            right.format,
        )
        .join(_A, _A.id == Vote.model_a_id)
        .join(_B, _B.id == Vote.model_b_id)
        .outerjoin(Prompt, Prompt.id == Vote.prompt_id)
        .outerjoin(Match, Match.id == Vote.match_id)
        .outerjoin(left, left.id == Match.left_image_id)
        .outerjoin(right, right.id == Match.right_image_id)
        .where(Vote.study_id == study_id)
        .order_by(Vote.id.desc())
        .limit(limit)
    )
    if epoch is not None:
        stmt = stmt.where(Vote.epoch == epoch)
    return [HistoryItem(*r[:4], as_utc(r[4]), *r[5:]) for r in session.execute(stmt)]


def bump_epoch(session: Session, study_id: int) -> int:
    """Archive the study's votes by starting a new epoch; returns the new epoch. Deletes nothing."""
    session.execute(update(Study).where(Study.id == study_id).values(epoch=Study.epoch + 1))
    epoch = session.scalar(select(Study.epoch).where(Study.id == study_id))
    session.commit()
    return int(epoch or 0)


def model_ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    if not names:
        return {}
    rows = session.execute(select(Model.name, Model.id).where(Model.name.in_(list(names))))
    return {name: model_id for name, model_id in rows}


def write_snapshots(
    session: Session,
    study_id: int,
    epoch: int,
    method: str,
    rows: Sequence[tuple[int, float, float | None, float | None, int]],
    at: datetime | None = None,
) -> None:
    """Append one leaderboard (model_id, rating, lower, upper, votes) as rating_snapshot rows."""
    if not rows:
        return
    at = at or datetime.now(UTC)
    session.execute(
        insert(RatingSnapshot),
        [
            {
                "study_id": study_id,
                "epoch": epoch,
                "model_id": model_id,
                "method": method,
                "rating": rating,
                "lower": lower,
                "upper": upper,
                "votes": votes,
                "at": at,
            }
            for model_id, rating, lower, upper, votes in rows
        ],
    )
    session.commit()


def latest_snapshot_at(session: Session, study_id: int, epoch: int, method: str) -> datetime | None:
    """Time of the newest snapshot of a method, or None."""
    at = session.scalar(
        select(func.max(RatingSnapshot.at)).where(
            RatingSnapshot.study_id == study_id,
            RatingSnapshot.epoch == epoch,
            RatingSnapshot.method == method,
        )
    )
    return None if at is None else as_utc(at)


def latest_vote_at(session: Session, study_id: int, epoch: int) -> datetime | None:
    at = session.scalar(select(func.max(Vote.tstamp)).where(Vote.study_id == study_id, Vote.epoch == epoch))
    return None if at is None else as_utc(at)


def snapshots(
    session: Session, study_id: int, epoch: int, method: str, limit: int = 5000
) -> list[SnapshotPoint]:
    """Rating over time for one method, oldest first."""
    stmt = (
        select(
            Model.name,
            RatingSnapshot.rating,
            RatingSnapshot.lower,
            RatingSnapshot.upper,
            RatingSnapshot.votes,
            RatingSnapshot.at,
        )
        .join(Model, Model.id == RatingSnapshot.model_id)
        .where(
            RatingSnapshot.study_id == study_id,
            RatingSnapshot.epoch == epoch,
            RatingSnapshot.method == method,
        )
        .order_by(RatingSnapshot.at.desc(), RatingSnapshot.id.desc())
        .limit(limit)
    )
    points = [SnapshotPoint(*r[:5], as_utc(r[5])) for r in session.execute(stmt)]
    points.reverse()
    return points
