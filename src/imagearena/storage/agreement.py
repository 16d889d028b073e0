"""Reads for judge-vs-human agreement: a study's human decisions with the images that were shown, and
the scores stored for the study's images.

Only decisions cast on a served match know their images (imported battle logs name models only), so
those are the ones read here. Plain functions that take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session

from imagearena.storage.catalog import model_names as model_names
from imagearena.storage.catalog import prompt_texts as prompt_texts
from imagearena.storage.models import Image, Match, RoundResult, Score, Vote
from imagearena.storage.votes import (
    ROUND_MODELS,
    ROUND_RANKS,
    SHOWN_IMAGES,
    kept_human_rounds,
    kept_human_votes,
)


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


def _decisions(
    session: Session,
    table: type[Vote] | type[RoundResult],
    columns: Sequence[Any],
    where: Sequence[ColumnElement[bool]],
) -> Sequence[Row[*tuple[Any, ...]]]:
    """``table``'s decisions that meet ``where`` with their match's ``columns`` (the match may be
    missing), oldest first. Read as plain rows (no ORM objects): a study may hold millions."""
    stmt = (
        select(table.id, *columns)
        .outerjoin(Match, Match.id == table.match_id)
        .where(*where)
        .order_by(table.tstamp, table.id)
    )
    return session.connection().execute(stmt).all()


def human_votes(session: Session, study_id: int, epoch: int) -> tuple[ShownVotes, int]:
    """The epoch's human pair votes that were cast on a served match, oldest first, undone ones left
    out; and how many human votes had no match (no images to score)."""
    v = Vote
    wanted = (*SHOWN_IMAGES[:2], v.winner, v.model_a_id, v.model_b_id, v.prompt_id, v.voter)
    rows = _decisions(session, Vote, wanted, kept_human_votes(study_id, epoch))
    shown = [r for r in rows if r[1] is not None and r[2] is not None]
    columns: list[list[Any]] = (
        [list(c) for c in zip(*shown, strict=True)] if shown else [[] for _ in range(8)]
    )
    return ShownVotes(*columns), len(rows) - len(shown)


def human_rounds(session: Session, study_id: int, epoch: int) -> tuple[ShownRounds, int]:
    """The epoch's human four-image round results cast on a served match, oldest first, undone ones
    left out; and how many had no match."""
    r = RoundResult
    wanted = (r.round_type, *SHOWN_IMAGES, *ROUND_MODELS, *ROUND_RANKS, r.prompt_id, r.voter)
    rows = _decisions(session, RoundResult, wanted, kept_human_rounds(study_id, epoch))
    shown = [row for row in rows if None not in tuple(row[2:6])]
    return (
        ShownRounds(
            [row[0] for row in shown],
            [row[1] for row in shown],
            [tuple(row[2:6]) for row in shown],
            [tuple(row[6:10]) for row in shown],
            [tuple(row[10:14]) for row in shown],
            [row[14] for row in shown],
            [row[15] for row in shown],
        ),
        len(rows) - len(shown),
    )


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
