"""A study's decisions as the battles the ratings read: pair votes as they are, four-image round results
rank-broken into pairs (ratings.rounds.rank_break) that carry their round's id in the ``group`` column,
all in the order they were cast. Undone decisions never reach here (storage.votes leaves them out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from imagearena.arena.board_cache import VoteColumns, VoteState

if TYPE_CHECKING:
    from imagearena.ratings import Battles
    from imagearena.storage.votes import DecisionTail, RoundRecord, VoteRecord

NO_GROUP = -1  # ratings.battles.NO_GROUP: the group of a pair vote


def round_battles(record: RoundRecord) -> list[tuple[str, str, str]]:
    """(model_a, model_b, winner) of a round's rank-broken battles, in display-position order."""
    from imagearena.ratings.rounds import rank_break

    return [
        (record.models[i], record.models[j], outcome.value)
        for i, j, outcome in rank_break(record.round_type, record.ranks)
    ]


def merge(
    model_a: Sequence[str],
    model_b: Sequence[str],
    winner: Sequence[str],
    tstamp: Sequence[float],
    rounds: Sequence[RoundRecord],
    state: VoteState,
) -> VoteColumns:
    """Pair votes (columns, oldest first) and round results (oldest first) as one column set in time
    order; a round's battles stay together, after pair votes of the same instant."""
    if not rounds:
        return VoteColumns(model_a, model_b, winner, tstamp, state)
    rows: list[tuple[float, int, str, str, str, int]] = [
        (t, 0, a, b, w, NO_GROUP) for a, b, w, t in zip(model_a, model_b, winner, tstamp, strict=True)
    ]
    for record in rounds:
        t = record.tstamp.timestamp()
        rows += [(t, 1, a, b, w, record.id) for a, b, w in round_battles(record)]
    rows.sort(key=lambda r: (r[0], r[1]))  # stable: each round's battles stay contiguous, in order
    return VoteColumns(
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[0] for r in rows],
        state,
        [r[5] for r in rows],
    )


def tail_columns(tail: DecisionTail, state: VoteState) -> VoteColumns:
    """A storage tail as log columns that bring the log to ``state``."""
    return merge(tail.model_a, tail.model_b, tail.winner, tail.tstamp, tail.rounds, state)


def battles_of(votes: Sequence[VoteRecord], rounds: Sequence[RoundRecord]) -> Battles:
    """Battles of pair votes and round results read in full (a time window, a sampler's warm start)."""
    from imagearena.ratings import Battles

    columns = merge(
        [v.model_a for v in votes],
        [v.model_b for v in votes],
        [v.winner for v in votes],
        [v.tstamp.timestamp() for v in votes],
        rounds,
        (0, 0, 0, 0, 0),
    )
    if not len(columns):
        return Battles.empty()
    return Battles.from_records(
        columns.model_a, columns.model_b, columns.winner, columns.tstamp, group=columns.group
    )
