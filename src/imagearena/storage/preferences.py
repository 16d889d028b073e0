"""Streaming reads for preference-data exports: people's kept decisions on served matches, with the
prompt, the voter and the images in display order, oldest first. Read as plain rows in chunks
(``yield_per``), so an export holds one chunk in memory whatever the study's size. Plain functions that
take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, aliased

from imagearena.storage.models import Image, Match, Model, Prompt, RoundResult, Vote
from imagearena.storage.rows import as_utc
from imagearena.storage.votes import ROUND_RANKS, SHOWN_IMAGES, kept_human_rounds, kept_human_votes
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


def _shown(
    session: Session,
    table: type[Vote] | type[RoundResult],
    columns: Sequence[Any],
    count: int,
    where: Sequence[ColumnElement[bool]],
) -> Iterator[tuple[Any, ...]]:
    """``table``'s decisions that meet ``where``, oldest first, streamed: (id, voter, tstamp, prompt
    text, *columns, then sha256, format, source and model name of each of the ``count`` images shown)."""
    images: list[Any] = []
    for k in range(count):
        images += [_I[k].sha256, _I[k].format, _I[k].source, _M[k].name]
    stmt = select(table.id, table.voter, table.tstamp, Prompt.text, *columns, *images).join(
        Match, Match.id == table.match_id
    )
    for k in range(count):
        stmt = stmt.join(_I[k], _I[k].id == SHOWN_IMAGES[k]).join(_M[k], _M[k].id == _I[k].model_id)
    stmt = stmt.outerjoin(Prompt, Prompt.id == table.prompt_id).where(*where).order_by(table.tstamp, table.id)
    for row in session.connection().execution_options(yield_per=CHUNK).execute(stmt):
        yield tuple(row)


def _images(values: tuple[object, ...]) -> tuple[ShownImage, ...]:
    return tuple(
        ShownImage(str(values[k]), str(values[k + 1]), str(values[k + 2] or ""), str(values[k + 3]))
        for k in range(0, len(values), 4)
    )


def iter_pair_preferences(session: Session, study_id: int, epoch: int) -> Iterator[PreferenceRow]:
    """The epoch's kept human pair votes cast on a served match, oldest first."""
    for v in _shown(session, Vote, [Vote.winner], 2, kept_human_votes(study_id, epoch)):
        yield PreferenceRow(
            "vote",
            int(v[0]),
            RoundType.PAIR,
            v[3] or "",
            v[1] or "",
            as_utc(v[2]),
            _images(v[5:]),
            str(v[4]),
            (),
        )


def iter_round_preferences(session: Session, study_id: int, epoch: int) -> Iterator[PreferenceRow]:
    """The epoch's kept human four-image round results, oldest first."""
    columns = [RoundResult.round_type, *ROUND_RANKS]
    for v in _shown(session, RoundResult, columns, 4, kept_human_rounds(study_id, epoch)):
        ranks = (int(v[5]), int(v[6]), int(v[7]), int(v[8]))
        yield PreferenceRow(
            "round", int(v[0]), str(v[4]), v[3] or "", v[1] or "", as_utc(v[2]), _images(v[9:]), None, ranks
        )
