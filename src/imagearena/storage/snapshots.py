"""Repository functions for rating snapshots: the leaderboard lines behind rating-over-time charts.

Plain functions that take a Session and never commit: the arena's background task owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from imagearena.storage.models import Model, RatingSnapshot
from imagearena.storage.rows import as_utc


@dataclass(frozen=True, slots=True)
class SnapshotPoint:
    model: str
    rating: float
    lower: float | None
    upper: float | None
    votes: int
    at: datetime


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
