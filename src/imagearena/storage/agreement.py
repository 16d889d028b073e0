"""Reads for judge-vs-human agreement: a study's human decisions with the images that were shown, and
the scores stored for the study's images.

Only decisions cast on a served match know their images (imported battle logs name models only), so
those are the ones read here. Plain functions that take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imagearena.storage.models import Image, Match, Model, Prompt, RoundResult, Score, Vote
from imagearena.storage.votes import round_kept, vote_kept

HUMAN = "human"


@dataclass(frozen=True, slots=True)
class ShownVotes:
    """Pair votes as columns, oldest first: the images in display order (left is model_a's), the
    winner, the two models' and the prompt's ids, the voter; ``models`` and ``prompts`` name the ids."""

    id: list[int]
    left: list[int]
    right: list[int]
    winner: list[str]
    model_a: list[int]
    model_b: list[int]
    prompt: list[int | None]
    voter: list[str]


@dataclass(frozen=True, slots=True)
class ShownRounds:
    """Four-image round results as columns, oldest first: images, models and ranks in display order
    (one 4-tuple per round)."""

    id: list[int]
    round_type: list[str]
    images: list[tuple[int, int, int, int]]
    models: list[tuple[int, int, int, int]]
    ranks: list[tuple[int, int, int, int]]
    prompt: list[int | None]
    voter: list[str]


def human_votes(session: Session, study_id: int, epoch: int) -> tuple[ShownVotes, int]:
    """The epoch's human pair votes that were cast on a served match, oldest first, undone ones left
    out; and how many human votes had no match (no images to score). Read as plain rows (no ORM
    objects): a study may hold millions."""
    stmt = (
        select(
            Vote.id,
            Match.left_image_id,
            Match.right_image_id,
            Vote.winner,
            Vote.model_a_id,
            Vote.model_b_id,
            Vote.prompt_id,
            Vote.voter,
        )
        .outerjoin(Match, Match.id == Vote.match_id)
        .where(Vote.study_id == study_id, Vote.epoch == epoch, Vote.judge == HUMAN, vote_kept())
        .order_by(Vote.tstamp, Vote.id)
    )
    rows = session.connection().execute(stmt).all()
    shown = [r for r in rows if r[1] is not None and r[2] is not None]
    columns: list[list[Any]] = (
        [list(c) for c in zip(*shown, strict=True)] if shown else [[] for _ in range(8)]
    )
    return ShownVotes(*columns), len(rows) - len(shown)


def human_rounds(session: Session, study_id: int, epoch: int) -> tuple[ShownRounds, int]:
    """The epoch's human four-image round results cast on a served match, oldest first, undone ones
    left out; and how many had no match."""
    r = RoundResult
    stmt = (
        select(
            r.id,
            r.round_type,
            Match.left_image_id,
            Match.right_image_id,
            Match.image_3_id,
            Match.image_4_id,
            r.model_1_id,
            r.model_2_id,
            r.model_3_id,
            r.model_4_id,
            r.rank_1,
            r.rank_2,
            r.rank_3,
            r.rank_4,
            r.prompt_id,
            r.voter,
        )
        .outerjoin(Match, Match.id == r.match_id)
        .where(r.study_id == study_id, r.epoch == epoch, r.judge == HUMAN, round_kept())
        .order_by(r.tstamp, r.id)
    )
    rows = session.connection().execute(stmt).all()
    shown = [row for row in rows if None not in tuple(row[2:6])]
    return (
        ShownRounds(
            [row[0] for row in shown],
            [row[1] for row in shown],
            [tuple(row[2:6]) for row in shown],  # type: ignore[misc]
            [tuple(row[6:10]) for row in shown],  # type: ignore[misc]
            [tuple(row[10:14]) for row in shown],  # type: ignore[misc]
            [row[14] for row in shown],
            [row[15] for row in shown],
        ),
        len(rows) - len(shown),
    )


def model_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Model id -> name for the given ids."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        out.update(
            {i: name for i, name in session.execute(select(Model.id, Model.name).where(Model.id.in_(chunk)))}
        )
    return out


def prompt_texts(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    """Prompt id -> text for the given ids (None skipped)."""
    wanted = sorted({i for i in ids if i is not None})
    out: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        out.update(
            {
                i: text
                for i, text in session.execute(select(Prompt.id, Prompt.text).where(Prompt.id.in_(chunk)))
            }
        )
    return out


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
