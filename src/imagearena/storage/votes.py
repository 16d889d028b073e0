"""Repository functions that read decisions: battle logs, history and exports.

Decisions are facts: pair votes and four-image round results, appended by
storage.matches.insert_match_votes, never updated or deleted. A reset bumps the study's epoch
(storage.studies.bump_epoch), so the older decisions stay (archived) and the current leaderboards skip
them; an undo (storage.matches.insert_undo) appends a row every read here honours by leaving the
decision out. Plain functions that take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from imagearena.storage.models import Image, Match, Model, Prompt, RoundResult, Undo, Vote
from imagearena.storage.rows import as_utc

#: The judge of a person's decision. Leaderboards, samplers and exports read these only: an automatic
#: judge's decisions (arena.judging) are read apart, with ``judge=`` its name.
HUMAN = "human"


def vote_kept() -> ColumnElement[bool]:
    """True for a pair vote that was not undone."""
    return ~exists().where(Undo.vote_id == Vote.id)


def round_kept() -> ColumnElement[bool]:
    """True for a round result that was not undone."""
    return ~exists().where(Undo.round_id == RoundResult.id)


def kept_human_votes(study_id: int, epoch: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions for the epoch's pair votes that people cast and did not undo."""
    return (Vote.study_id == study_id, Vote.epoch == epoch, Vote.judge == HUMAN, vote_kept())


def kept_human_rounds(study_id: int, epoch: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions for the epoch's four-image round results that people cast and did not undo."""
    r = RoundResult
    return (r.study_id == study_id, r.epoch == epoch, r.judge == HUMAN, round_kept())


#: A served match's images in display order (the last two are None for a pair), and a round result's
#: models and ranks in the same order.
SHOWN_IMAGES = (Match.left_image_id, Match.right_image_id, Match.image_3_id, Match.image_4_id)
ROUND_MODELS = (
    RoundResult.model_1_id,
    RoundResult.model_2_id,
    RoundResult.model_3_id,
    RoundResult.model_4_id,
)
ROUND_RANKS = (RoundResult.rank_1, RoundResult.rank_2, RoundResult.rank_3, RoundResult.rank_4)


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
        .where(Vote.study_id == study_id, vote_kept())
    )


#: A time window of decisions, [since, until); None leaves that end open.
Window = tuple[datetime | None, datetime | None]
ALL_TIME: Window = (None, None)


def _decisions_in(
    table: type[Vote] | type[RoundResult],
    epoch: int | BindParameter[int] | None,
    window: Window = ALL_TIME,
    judge: str | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions that keep a study's pair votes (``table`` Vote) or round results (RoundResult) of
    one epoch (None: every epoch), cast in ``window``, by ``judge`` (None: any judge)."""
    since, until = window
    conditions = [] if judge is None else [table.judge == judge]
    if epoch is not None:
        conditions.append(table.epoch == epoch)
    if since is not None:
        conditions.append(table.tstamp >= since)
    if until is not None:
        conditions.append(table.tstamp < until)
    return conditions


def iter_votes(
    session: Session, study_id: int, epoch: int | None, window: Window = ALL_TIME, *, judge: str = HUMAN
) -> Iterator[VoteRecord]:
    """Votes in the order they were cast (TrueSkill and online Elo depend on it); epoch None = all epochs;
    ``judge``'s only: people's unless it names an automatic judge."""
    stmt = (
        _named_votes(study_id)
        .add_columns(Vote.judge, Vote.voter, Vote.epoch, Prompt.text)
        .outerjoin(Prompt, Prompt.id == Vote.prompt_id)
        .where(*_decisions_in(Vote, epoch, window, judge))
        .order_by(Vote.tstamp, Vote.id)
    )
    for vote_id, model_a, model_b, winner, tstamp, judge_, voter, epoch_, prompt in session.execute(
        stmt.execution_options(yield_per=2000)
    ):
        yield VoteRecord(vote_id, model_a, model_b, winner, as_utc(tstamp), judge_, prompt, voter, epoch_)


@dataclass(frozen=True, slots=True)
class PublicRound:
    """One four-image round's result as anyone may see it: its models and ranks in display order, no
    voter id."""

    id: int
    round_type: str
    models: tuple[str, str, str, str]
    ranks: tuple[int, int, int, int]
    tstamp: datetime
    judge: str
    prompt: str | None


@dataclass(frozen=True, slots=True)
class RoundRecord(PublicRound):
    """One four-image round's result in battle-log form, with who cast it and in which epoch."""

    voter: str
    epoch: int


_M = tuple(aliased(Model) for _ in range(4))


def _round_query(
    study_id: int | BindParameter[int],
    epoch: int | BindParameter[int] | None,
    window: Window = ALL_TIME,
    *,
    judge: str | None = None,
    kept: bool = True,
) -> Select[*tuple[Any, ...]]:
    r = RoundResult
    stmt = select(
        r.id,
        r.round_type,
        *(m.name for m in _M),
        *ROUND_RANKS,
        r.tstamp,
        r.judge,
        Prompt.text,
        r.voter,
        r.epoch,
    )
    for model, column in zip(_M, ROUND_MODELS, strict=True):
        stmt = stmt.join(model, model.id == column)
    stmt = stmt.outerjoin(Prompt, Prompt.id == r.prompt_id).where(r.study_id == study_id)
    if kept:
        stmt = stmt.where(round_kept())
    return stmt.where(*_decisions_in(r, epoch, window, judge))


def _round_record(row: tuple[object, ...]) -> RoundRecord:
    rid, rtype, m1, m2, m3, m4, r1, r2, r3, r4, tstamp, judge, prompt, voter, epoch = row
    return RoundRecord(
        int(rid),  # type: ignore[call-overload]
        str(rtype),
        (str(m1), str(m2), str(m3), str(m4)),
        (int(r1), int(r2), int(r3), int(r4)),  # type: ignore[call-overload]
        as_utc(tstamp),  # type: ignore[arg-type]
        str(judge),
        None if prompt is None else str(prompt),
        str(voter),
        int(epoch),  # type: ignore[call-overload]
    )


def iter_rounds(
    session: Session, study_id: int, epoch: int | None, window: Window = ALL_TIME, *, judge: str = HUMAN
) -> Iterator[RoundRecord]:
    """Four-image round results in the order they were cast, undone ones left out; epoch None = all;
    ``judge``'s only: people's unless it names an automatic judge."""
    stmt = _round_query(study_id, epoch, window, judge=judge).order_by(RoundResult.tstamp, RoundResult.id)
    for row in session.execute(stmt.execution_options(yield_per=2000)):
        yield _round_record(tuple(row))


@dataclass(frozen=True, slots=True)
class DecisionTail:
    """Decisions of an epoch after given ids, oldest first, undone ones left out: pair votes as battle
    columns (model_a, model_b, winner, tstamp in seconds) and round results, people's decisions only.
    ``vote_rows`` and ``round_rows`` count the rows read, undone and automatic judges' ones included, and the tops are the highest ids read:
    decisions are append-only, so a cached battle log only ever needs the next tail."""

    model_a: list[str]
    model_b: list[str]
    winner: list[str]
    tstamp: list[float]
    rounds: list[RoundRecord]
    vote_rows: int
    vote_top: int
    round_rows: int
    round_top: int


def _tails() -> tuple[Select[*tuple[Any, ...]], Select[*tuple[Any, ...]]]:
    """The two tail reads, built once with bound parameters (study, epoch, after): a leaderboard view
    runs them every time, and building a statement costs more than running it on a short tail."""
    study: BindParameter[int] = bindparam("study")
    epoch: BindParameter[int] = bindparam("epoch")
    after: BindParameter[int] = bindparam("after")
    votes = (
        select(
            Vote.id,
            _A.name,
            _B.name,
            Vote.winner,
            Vote.tstamp,
            exists().where(Undo.vote_id == Vote.id) | (Vote.judge != HUMAN),
        )
        .join(_A, _A.id == Vote.model_a_id)
        .join(_B, _B.id == Vote.model_b_id)
        .where(Vote.study_id == study, Vote.epoch == epoch, Vote.id > after)
        .order_by(Vote.tstamp, Vote.id)
    )
    rounds = (
        _round_query(study, epoch, kept=False)
        .add_columns(exists().where(Undo.round_id == RoundResult.id))
        .where(RoundResult.id > after)
        .order_by(RoundResult.tstamp, RoundResult.id)
    )
    return votes, rounds


_VOTE_TAIL, _ROUND_TAIL = _tails()


def decisions_after(
    session: Session,
    study_id: int,
    epoch: int,
    after_vote: int = 0,
    after_round: int = 0,
    *,
    rounds: bool = True,
) -> DecisionTail:
    """The epoch's decisions with ids above ``after_vote`` (votes) and ``after_round`` (rounds);
    ``rounds=False`` skips the round results (the caller knows none arrived)."""
    a: list[str] = []
    b: list[str] = []
    w: list[str] = []
    t: list[float] = []
    vote_rows, vote_top = 0, after_vote
    params = {"study": study_id, "epoch": epoch}
    for vote_id, model_a, model_b, winner, tstamp, undone in session.execute(
        _VOTE_TAIL.execution_options(yield_per=5000), {**params, "after": after_vote}
    ):
        vote_rows += 1
        vote_top = max(vote_top, vote_id)
        if not undone:
            a.append(model_a)
            b.append(model_b)
            w.append(winner)
            t.append(as_utc(tstamp).timestamp())
    found: list[RoundRecord] = []
    round_rows, round_top = 0, after_round
    if rounds:
        for row in session.execute(_ROUND_TAIL, {**params, "after": after_round}):
            *fields, undone = tuple(row)
            record = _round_record(tuple(fields))
            round_rows += 1
            round_top = max(round_top, record.id)
            if not undone and record.judge == HUMAN:
                found.append(record)
    return DecisionTail(a, b, w, t, found, vote_rows, vote_top, round_rows, round_top)


#: (vote rows, highest vote id, round result rows, highest round id, undo rows): undone decisions
#: included, so every part only grows.
DecisionState = tuple[int, int, int, int, int]


def decision_state(session: Session, study_id: int, epoch: int) -> DecisionState:
    """The epoch's :data:`DecisionState`, in one statement that reads each table's index once: a cheap
    key for caching derived leaderboards (any new decision or undo changes it)."""
    parts = union_all(
        select(literal(0), func.count(Vote.id), func.coalesce(func.max(Vote.id), 0)).where(
            Vote.study_id == study_id, Vote.epoch == epoch
        ),
        select(literal(1), func.count(RoundResult.id), func.coalesce(func.max(RoundResult.id), 0)).where(
            RoundResult.study_id == study_id, RoundResult.epoch == epoch
        ),
        select(literal(2), func.count(Undo.id), literal(0)).where(Undo.study_id == study_id),
    )
    found = {int(kind): (int(rows or 0), int(top or 0)) for kind, rows, top in session.execute(parts)}
    (vote_rows, vote_top), (round_rows, round_top), (undos, _) = found[0], found[1], found[2]
    return vote_rows, vote_top, round_rows, round_top, undos


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
        .where(*_decisions_in(Vote, epoch))
        .order_by(Vote.id.desc())
        .limit(limit)
    )
    return [
        HistoryItem(vote_id, model_a, model_b, winner, as_utc(tstamp), judge, prompt, *images)
        for vote_id, model_a, model_b, winner, tstamp, judge, prompt, *images in session.execute(stmt)
    ]


@dataclass(frozen=True, slots=True)
class RoundHistoryItem(PublicRound):
    """One four-image round result with the images that were shown, in display order (for thumbnails)."""

    images: tuple[tuple[str, str] | None, ...]  # (sha256, format) per position; None where not known


_IMAGES = tuple(aliased(Image) for _ in range(4))


def recent_rounds(
    session: Session, study_id: int, epoch: int | None, limit: int = 50
) -> list[RoundHistoryItem]:
    """The newest four-image round results first, undone ones left out (as :func:`recent_votes` leaves
    out undone votes), with the images that were shown."""
    stmt = _round_query(study_id, epoch).outerjoin(Match, Match.id == RoundResult.match_id)
    for image, column in zip(_IMAGES, SHOWN_IMAGES, strict=True):
        stmt = stmt.outerjoin(image, image.id == column).add_columns(image.sha256, image.format)
    items = []
    for row in session.execute(stmt.order_by(RoundResult.id.desc()).limit(limit)):
        fields = tuple(row)
        record = _round_record(fields[:15])
        files = fields[15:]
        images = tuple(
            (str(files[k]), str(files[k + 1])) if files[k] and files[k + 1] else None for k in range(0, 8, 2)
        )
        items.append(
            RoundHistoryItem(
                record.id,
                record.round_type,
                record.models,
                record.ranks,
                record.tstamp,
                record.judge,
                record.prompt,
                images,
            )
        )
    return items


def latest_vote_at(session: Session, study_id: int, epoch: int) -> datetime | None:
    """When the epoch's newest decision (a vote, a round result or an undo) was made."""
    times = [
        session.scalar(select(func.max(Vote.tstamp)).where(Vote.study_id == study_id, Vote.epoch == epoch)),
        session.scalar(
            select(func.max(RoundResult.tstamp)).where(
                RoundResult.study_id == study_id, RoundResult.epoch == epoch
            )
        ),
        session.scalar(select(func.max(Undo.tstamp)).where(Undo.study_id == study_id)),
    ]
    found = [as_utc(t) for t in times if t is not None]
    return max(found) if found else None
