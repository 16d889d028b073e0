"""Streaming reads for preference-data exports: people's kept decisions on served matches, with the
prompt, the voter and the images in display order, oldest first. Read as plain rows in chunks
(``yield_per``), so an export holds one chunk in memory whatever the study's size. Plain functions that
take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from imagearena.storage.models import Image, Match, Model, Prompt, RoundResult, Vote
from imagearena.storage.rows import as_utc
from imagearena.storage.votes import HUMAN, round_kept, vote_kept
from imagearena.types import RoundType

CHUNK = 2000


@dataclass(frozen=True, slots=True)
class ShownImage:
    """An image as it was shown: its content address, format, path (a folder study's, relative to the
    folder; else empty) and its model's name."""

    sha256: str
    format: str
    source: str
    model: str


@dataclass(frozen=True, slots=True)
class PreferenceRow:
    """One decision: ``winner`` for a pair (an Outcome value), ``ranks`` for a four-image round."""

    kind: str  # "vote" or "round"
    id: int
    round_type: str
    prompt: str
    voter: str
    tstamp: datetime
    images: tuple[ShownImage, ...]
    winner: str | None
    ranks: tuple[int, ...]


_I = tuple(aliased(Image) for _ in range(4))
_M = tuple(aliased(Model) for _ in range(4))


def _image_columns(count: int) -> list[object]:
    columns: list[object] = []
    for k in range(count):
        columns += [_I[k].sha256, _I[k].format, _I[k].source, _M[k].name]
    return columns


def _images(values: tuple[object, ...]) -> tuple[ShownImage, ...]:
    return tuple(
        ShownImage(str(values[k]), str(values[k + 1]), str(values[k + 2] or ""), str(values[k + 3]))
        for k in range(0, len(values), 4)
    )


def iter_pair_preferences(session: Session, study_id: int, epoch: int) -> Iterator[PreferenceRow]:
    """The epoch's kept human pair votes cast on a served match, oldest first."""
    match_images = (Match.left_image_id, Match.right_image_id)
    stmt = select(Vote.id, Vote.winner, Vote.voter, Vote.tstamp, Prompt.text, *_image_columns(2)).join(
        Match, Match.id == Vote.match_id
    )
    for k in range(2):
        stmt = stmt.join(_I[k], _I[k].id == match_images[k]).join(_M[k], _M[k].id == _I[k].model_id)
    stmt = (
        stmt.outerjoin(Prompt, Prompt.id == Vote.prompt_id)
        .where(Vote.study_id == study_id, Vote.epoch == epoch, Vote.judge == HUMAN, vote_kept())
        .order_by(Vote.tstamp, Vote.id)
    )
    for row in session.connection().execution_options(yield_per=CHUNK).execute(stmt):
        v: tuple[Any, ...] = tuple(row)
        yield PreferenceRow(
            "vote",
            int(v[0]),
            RoundType.PAIR,
            v[4] or "",
            v[2] or "",
            as_utc(v[3]),
            _images(v[5:]),
            str(v[1]),
            (),
        )


def iter_round_preferences(session: Session, study_id: int, epoch: int) -> Iterator[PreferenceRow]:
    """The epoch's kept human four-image round results, oldest first."""
    r = RoundResult
    match_images = (Match.left_image_id, Match.right_image_id, Match.image_3_id, Match.image_4_id)
    stmt = select(
        r.id,
        r.round_type,
        r.voter,
        r.tstamp,
        Prompt.text,
        r.rank_1,
        r.rank_2,
        r.rank_3,
        r.rank_4,
        *_image_columns(4),
    ).join(Match, Match.id == r.match_id)
    for k in range(4):
        stmt = stmt.join(_I[k], _I[k].id == match_images[k]).join(_M[k], _M[k].id == _I[k].model_id)
    stmt = (
        stmt.outerjoin(Prompt, Prompt.id == r.prompt_id)
        .where(r.study_id == study_id, r.epoch == epoch, r.judge == HUMAN, round_kept())
        .order_by(r.tstamp, r.id)
    )
    for row in session.connection().execution_options(yield_per=CHUNK).execute(stmt):
        v: tuple[Any, ...] = tuple(row)
        yield PreferenceRow(
            "round",
            int(v[0]),
            str(v[1]),
            v[4] or "",
            v[2] or "",
            as_utc(v[3]),
            _images(v[9:]),
            None,
            (int(v[5]), int(v[6]), int(v[7]), int(v[8])),
        )
