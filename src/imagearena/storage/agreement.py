"""Reads for judge-vs-human agreement: a study's human decisions with the images that were shown, and
the scores stored for the study's images.

Only decisions cast on a served match know their images (imported battle logs name models only), so
those are the ones read here. Plain functions that take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from imagearena.storage.models import Image, Match, Model, Prompt, RoundResult, Score, Vote
from imagearena.storage.votes import round_kept, vote_kept

HUMAN = "human"


@dataclass(frozen=True, slots=True)
class ShownVote:
    """A pair vote with its images in display order (left is model_a's)."""

    id: int
    left: int
    right: int
    winner: str
    model_a: str
    model_b: str
    prompt: str | None
    voter: str


@dataclass(frozen=True, slots=True)
class ShownRound:
    """A four-image round's result with its images, models and ranks in display order."""

    id: int
    round_type: str
    images: tuple[int, int, int, int]
    models: tuple[str, str, str, str]
    ranks: tuple[int, int, int, int]
    prompt: str | None
    voter: str


def human_votes(session: Session, study_id: int, epoch: int) -> tuple[list[ShownVote], int]:
    """The epoch's human pair votes that were cast on a served match, oldest first, undone ones left
    out; and how many human votes had no match (no images to score)."""
    a, b = aliased(Model), aliased(Model)
    stmt = (
        select(
            Vote.id,
            Match.left_image_id,
            Match.right_image_id,
            Vote.winner,
            a.name,
            b.name,
            Prompt.text,
            Vote.voter,
        )
        .join(a, a.id == Vote.model_a_id)
        .join(b, b.id == Vote.model_b_id)
        .outerjoin(Match, Match.id == Vote.match_id)
        .outerjoin(Prompt, Prompt.id == Vote.prompt_id)
        .where(Vote.study_id == study_id, Vote.epoch == epoch, Vote.judge == HUMAN, vote_kept())
        .order_by(Vote.tstamp, Vote.id)
    )
    votes: list[ShownVote] = []
    blind = 0
    for vid, left, right, winner, model_a, model_b, prompt, voter in session.execute(
        stmt.execution_options(yield_per=5000)
    ):
        if left is None or right is None:
            blind += 1
            continue
        votes.append(ShownVote(vid, left, right, winner, model_a, model_b, prompt, voter))
    return votes, blind


def human_rounds(session: Session, study_id: int, epoch: int) -> tuple[list[ShownRound], int]:
    """The epoch's human four-image round results cast on a served match, oldest first, undone ones
    left out; and how many had no match."""
    r = RoundResult
    m = [aliased(Model) for _ in range(4)]
    stmt = (
        select(
            r.id,
            r.round_type,
            Match.left_image_id,
            Match.right_image_id,
            Match.image_3_id,
            Match.image_4_id,
            *(x.name for x in m),
            r.rank_1,
            r.rank_2,
            r.rank_3,
            r.rank_4,
            Prompt.text,
            r.voter,
        )
        .join(m[0], m[0].id == r.model_1_id)
        .join(m[1], m[1].id == r.model_2_id)
        .join(m[2], m[2].id == r.model_3_id)
        .join(m[3], m[3].id == r.model_4_id)
        .outerjoin(Match, Match.id == r.match_id)
        .outerjoin(Prompt, Prompt.id == r.prompt_id)
        .where(r.study_id == study_id, r.epoch == epoch, r.judge == HUMAN, round_kept())
        .order_by(r.tstamp, r.id)
    )
    rounds: list[ShownRound] = []
    blind = 0
    for row in session.execute(stmt.execution_options(yield_per=5000)):
        rid, rtype, i1, i2, i3, i4, m1, m2, m3, m4, r1, r2, r3, r4, prompt, voter = row
        if i1 is None or i2 is None or i3 is None or i4 is None:
            blind += 1
            continue
        rounds.append(
            ShownRound(rid, rtype, (i1, i2, i3, i4), (m1, m2, m3, m4), (r1, r2, r3, r4), prompt, voter)
        )
    return rounds, blind


def stored_scorers(session: Session, study_id: int) -> list[str]:
    """Names of the scorers that have scored some image of the study, sorted."""
    stmt = (
        select(Score.scorer)
        .join(Image, Image.id == Score.image_id)
        .where(Image.study_id == study_id)
        .distinct()
        .order_by(Score.scorer)
    )
    return list(session.scalars(stmt))


def study_scores(session: Session, study_id: int, scorers: Sequence[str]) -> dict[str, dict[int, float]]:
    """``{scorer: {image_id: value}}`` for the study's images (a scorer with no scores maps to {})."""
    out: dict[str, dict[int, float]] = {name: {} for name in scorers}
    if not scorers:
        return out
    stmt = (
        select(Score.scorer, Score.image_id, Score.value)
        .join(Image, Image.id == Score.image_id)
        .where(Image.study_id == study_id, Score.scorer.in_(list(scorers)))
    )
    for scorer, image_id, value in session.execute(stmt.execution_options(yield_per=10000)):
        out[scorer][image_id] = value
    return out


def score_state(session: Session, study_id: int) -> tuple[int, int, float]:
    """(count, highest id, sum of values) of the study's stored scores: changes when a score is added
    or a scorer's rerun replaces a value, so a cached agreement knows it is stale."""
    count, top, total = session.execute(
        select(
            func.count(Score.id),
            func.coalesce(func.max(Score.id), 0),
            func.coalesce(func.sum(Score.value), 0.0),
        )
        .join(Image, Image.id == Score.image_id)
        .where(Image.study_id == study_id)
    ).one()
    return int(count), int(top), float(total)
