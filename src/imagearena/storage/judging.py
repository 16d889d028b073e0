"""Reads and writes of automatic arenas: the matches people decided that a judge has not yet, the
judge's decisions stored beside theirs (``judge`` = its name, linked to the match by a ``judgement``
row), and both decisions of each match a judge decided. Plain functions that take a Session and never
commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import Session

from imagearena.storage.catalog import model_names as model_names
from imagearena.storage.models import Image, Judgement, Match, Prompt, RoundResult, Score, Vote
from imagearena.storage.votes import (
    ROUND_MODELS,
    ROUND_RANKS,
    SHOWN_IMAGES,
    kept_human_rounds,
    kept_human_votes,
)
from imagearena.types import RoundType


@dataclass(frozen=True, slots=True)
class DecidedMatch:
    """A served match people decided: its images and their models in display order, and the human
    decision (``winner`` for a pair, ``ranks`` for a four-image round)."""

    match_id: int
    epoch: int
    round_type: str
    prompt_id: int | None
    prompt: str
    images: tuple[int, ...]
    models: tuple[int, ...]
    winner: str | None
    ranks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ImageFile:
    sha256: str
    format: str
    source: str


def _decided(
    table: type[Vote] | type[RoundResult], columns: Sequence[Any], where: Sequence[ColumnElement[bool]]
) -> Select[*tuple[Any, ...]]:
    """Served matches with ``table``'s decisions that meet ``where``: (match id, epoch, prompt id, prompt
    text, *columns), by match id."""
    return (
        select(Match.id, table.epoch, table.prompt_id, Prompt.text, *columns)
        .join(table, table.match_id == Match.id)
        .outerjoin(Prompt, Prompt.id == table.prompt_id)
        .where(*where)
        .order_by(Match.id)
    )


def decided_matches(
    session: Session, study_id: int, epoch: int, judge: str | None = None, limit: int | None = None
) -> list[DecidedMatch]:
    """The epoch's matches with a kept human decision, oldest first; with ``judge``, those it has not
    judged yet only."""
    votes = _decided(
        Vote,
        (*SHOWN_IMAGES[:2], Vote.model_a_id, Vote.model_b_id, Vote.winner),
        kept_human_votes(study_id, epoch),
    )
    rounds = _decided(
        RoundResult,
        (RoundResult.round_type, *SHOWN_IMAGES, *ROUND_MODELS, *ROUND_RANKS),
        kept_human_rounds(study_id, epoch),
    )
    if judge is not None:
        unjudged = ~exists().where(Judgement.match_id == Match.id, Judgement.judge == judge)
        votes, rounds = votes.where(unjudged), rounds.where(unjudged)
    found = [
        DecidedMatch(mid, ep, RoundType.PAIR, pid, text or "", (left, right), (a, b), winner, ())
        for mid, ep, pid, text, left, right, a, b, winner in session.execute(votes)
    ]
    for row in session.execute(rounds):
        mid, ep, pid, text, rtype, *rest = tuple(row)
        found.append(
            DecidedMatch(
                mid, ep, rtype, pid, text or "", tuple(rest[0:4]), tuple(rest[4:8]), None, tuple(rest[8:12])
            )
        )
    found.sort(key=lambda m: m.match_id)
    return found[:limit] if limit is not None else found


def image_files(session: Session, image_ids: Sequence[int]) -> dict[int, ImageFile]:
    rows = session.execute(
        select(Image.id, Image.sha256, Image.format, Image.source).where(Image.id.in_(list(set(image_ids))))
    )
    return {i: ImageFile(sha, fmt, source or "") for i, sha, fmt, source in rows}


def stored_scores(
    session: Session, image_ids: Sequence[int], scorers: Sequence[str]
) -> dict[int, dict[str, float]]:
    """``{image_id: {scorer: value}}`` for the given scorers' stored scores of the images."""
    found: dict[int, dict[str, float]] = {}
    if not image_ids or not scorers:
        return found
    rows = session.execute(
        select(Score.image_id, Score.scorer, Score.value).where(
            Score.image_id.in_(list(set(image_ids))), Score.scorer.in_(list(scorers))
        )
    )
    for image_id, scorer, value in rows:
        found.setdefault(image_id, {})[scorer] = float(value)
    return found


def insert_judgement(
    session: Session,
    study_id: int,
    match: DecidedMatch,
    judge: str,
    ranks: Sequence[int],
    rationale: str,
    winner: str | None = None,
    at: datetime | None = None,
) -> int:
    """Store a judge's decision on ``match`` (a vote with ``winner`` for a pair, a round result with
    ``ranks`` otherwise) and its judgement row; returns the judgement's id."""
    at = at or datetime.now(UTC)
    common: dict[str, Any] = {
        "study_id": study_id,
        "epoch": match.epoch,
        "prompt_id": match.prompt_id,
        "judge": judge,
        "voter": "",
        "tstamp": at,
    }
    pair = match.round_type == RoundType.PAIR
    decision = (
        Vote(**common, model_a_id=match.models[0], model_b_id=match.models[1], winner=winner)
        if pair
        else RoundResult(
            **common,
            round_type=match.round_type,
            **{f"model_{k}_id": m for k, m in enumerate(match.models, start=1)},
            **{f"rank_{k}": int(r) for k, r in enumerate(ranks, start=1)},
        )
    )
    session.add(decision)
    session.flush()
    vote_id, round_id = (decision.id, None) if pair else (None, decision.id)
    judgement = Judgement(
        study_id=study_id,
        match_id=match.match_id,
        judge=judge,
        vote_id=vote_id,
        round_id=round_id,
        rationale=rationale,
        created_at=at,
    )
    session.add(judgement)
    session.flush()
    return judgement.id


@dataclass(frozen=True, slots=True)
class JudgedMatch:
    """A match both people and the judge decided, both decisions as ranks in display order."""

    match_id: int
    prompt: str
    images: tuple[int, ...]
    models: tuple[int, ...]
    human: tuple[int, ...]
    judge: tuple[int, ...]
    rationale: str


def judged_matches(session: Session, study_id: int, epoch: int, judge: str) -> list[JudgedMatch]:
    """Every match of the epoch that people and ``judge`` decided, oldest first."""
    decided = {m.match_id: m for m in decided_matches(session, study_id, epoch)}
    rows = session.execute(
        select(
            Judgement.match_id,
            Judgement.rationale,
            Vote.winner,
            *ROUND_RANKS,
        )
        .outerjoin(Vote, Vote.id == Judgement.vote_id)
        .outerjoin(RoundResult, RoundResult.id == Judgement.round_id)
        .where(Judgement.study_id == study_id, Judgement.judge == judge)
        .order_by(Judgement.match_id)
    )
    found = []
    for match_id, rationale, winner, *ranks in rows:
        human = decided.get(match_id)
        if human is None:
            continue
        theirs = pair_ranks(winner) if winner is not None else tuple(int(r) for r in ranks)
        ours = pair_ranks(human.winner) if human.winner is not None else human.ranks
        found.append(
            JudgedMatch(match_id, human.prompt, human.images, human.models, ours, theirs, rationale or "")
        )
    return found


def pair_ranks(winner: str | None) -> tuple[int, ...]:
    """A pair outcome as ranks: model_a (1, 2), model_b (2, 1), tie and both_bad (1, 1)."""
    return {"model_a": (1, 2), "model_b": (2, 1)}.get(winner or "", (1, 1))


def study_judges(session: Session, study_id: int) -> list[str]:
    """The judges that decided matches of the study, by name."""
    return list(
        session.scalars(
            select(Judgement.judge).where(Judgement.study_id == study_id).distinct().order_by(Judgement.judge)
        )
    )
