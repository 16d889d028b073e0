"""Repository functions that read votes: battle logs, history and exports.

Votes are facts: appended by storage.matches.insert_match_votes, never updated or deleted. A reset
bumps the study's epoch (storage.studies.bump_epoch), so the older votes stay (archived) and the
current leaderboards skip them. Plain functions that take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from imagearena.storage.models import Image, Match, Model, Prompt, Vote
from imagearena.storage.rows import as_utc


@dataclass(frozen=True, slots=True)
class PublicVote:
    """One vote as anyone may see it (the field names of the public arena logs): no voter id."""

    id: int
    model_a: str
    model_b: str
    winner: str
    tstamp: datetime
    judge: str
    prompt: str | None


@dataclass(frozen=True, slots=True)
class VoteRecord(PublicVote):
    """One vote in battle-log form, with who cast it and in which epoch."""

    voter: str
    epoch: int


@dataclass(frozen=True, slots=True)
class HistoryItem(PublicVote):
    """One vote with the two images that were shown (for thumbnails)."""

    left_sha256: str | None
    left_format: str | None
    right_sha256: str | None
    right_format: str | None


_A, _B = aliased(Model), aliased(Model)


def _named_votes(study_id: int) -> Select[int, str, str, str, datetime]:
    """A study's votes with their two models' names (id, model_a, model_b, winner, tstamp): the start of
    every vote read."""
    return (
        select(Vote.id, _A.name, _B.name, Vote.winner, Vote.tstamp)
        .join(_A, _A.id == Vote.model_a_id)
        .join(_B, _B.id == Vote.model_b_id)
        .where(Vote.study_id == study_id)
    )


def _vote_query(
    study_id: int, epoch: int | None, since: datetime | None, until: datetime | None
) -> Select[int, str, str, str, datetime, str, str, int, str]:
    stmt = (
        _named_votes(study_id)
        .add_columns(Vote.judge, Vote.voter, Vote.epoch, Prompt.text)
        .outerjoin(Prompt, Prompt.id == Vote.prompt_id)
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
        yield VoteRecord(vote_id, model_a, model_b, winner, as_utc(tstamp), judge, prompt, voter, epoch_)


def battle_columns_after(
    session: Session, study_id: int, epoch: int, after_id: int
) -> tuple[list[str], list[str], list[str], list[float], int]:
    """Votes of an epoch with an id above ``after_id`` as columns (model_a, model_b, winner, tstamp in
    seconds) plus the highest id seen. Votes are append-only, so a cached battle log only ever needs
    this tail."""
    stmt = (
        _named_votes(study_id).where(Vote.epoch == epoch, Vote.id > after_id).order_by(Vote.tstamp, Vote.id)
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
    stmt: Select[
        int, str, str, str, datetime, str, str | None, str | None, str | None, str | None, str | None
    ]
    stmt = (
        _named_votes(study_id)
        .add_columns(Vote.judge, Prompt.text, left.sha256, left.format, right.sha256, right.format)
        .outerjoin(Prompt, Prompt.id == Vote.prompt_id)
        .outerjoin(Match, Match.id == Vote.match_id)
        .outerjoin(left, left.id == Match.left_image_id)
        .outerjoin(right, right.id == Match.right_image_id)
        .order_by(Vote.id.desc())
        .limit(limit)
    )
    if epoch is not None:
        stmt = stmt.where(Vote.epoch == epoch)
    return [
        HistoryItem(vote_id, model_a, model_b, winner, as_utc(tstamp), judge, prompt, *images)
        for vote_id, model_a, model_b, winner, tstamp, judge, prompt, *images in session.execute(stmt)
    ]


def latest_vote_at(session: Session, study_id: int, epoch: int) -> datetime | None:
    at = session.scalar(select(func.max(Vote.tstamp)).where(Vote.study_id == study_id, Vote.epoch == epoch))
    return None if at is None else as_utc(at)
