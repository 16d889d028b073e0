"""Four-image rounds: checking a round's ranks and breaking them into the pairwise battles that Elo and
Bradley-Terry read.

A round's result is one rank per image in display order, 1 = best, equal ranks = tie. ``best4``: one
pick (rank 1, the other three rank 2) or "no clear best" (all rank 1). ``order4``: any ranks from 1 to 4
with ties, stored as competition ranks (1, 2, 2, 4). A best-of-4 pick says nothing about how the three
unpicked images compare, so it breaks into the three pairs "pick beats each other image" only; an order
breaks into all six pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import MODEL_A, MODEL_B, NO_GROUP, TIE, Battles
from imagearena.types import Outcome, RoundType

#: Images shown per round type.
ROUND_SIZE: dict[RoundType, int] = {RoundType.PAIR: 2, RoundType.BEST4: 4, RoundType.ORDER4: 4}
#: Display positions (i, j), i < j, of the six pairs of a four-image round, in rank-breaking order.
PAIRS4: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
_I4 = np.array([i for i, _ in PAIRS4])
_J4 = np.array([j for _, j in PAIRS4])


def parse_round_type(value: RoundType | str) -> RoundType:
    """``value`` as a RoundType, or an InputError naming the allowed ones."""
    try:
        return RoundType(value)
    except ValueError:
        raise InputError(f"unknown round type {value!r}; use one of {', '.join(RoundType)}") from None


def _competition(ranks: np.ndarray) -> np.ndarray:
    """Competition ranks (1, 2, 2, 4) per row: 1 + how many images of the row rank strictly better."""
    out: np.ndarray = 1 + (ranks[..., None, :] < ranks[..., :, None]).sum(axis=-1)
    return out


def _rank_rule(rt: RoundType) -> str:
    n = ROUND_SIZE[rt]
    if rt is RoundType.BEST4:
        return (
            "best4 ranks give the picked image rank 1 and the other three rank 2, "
            "or all four rank 1 when there is no clear best"
        )
    return f"{rt.value} ranks are {n} integers from 1 (best) to {n}, equal ranks for a tie"


def validate_ranks(round_type: RoundType | str, ranks: Sequence[int]) -> tuple[int, ...]:
    """The round's ranks as competition ranks (``[1, 2, 2, 3]`` -> ``(1, 2, 2, 4)``), or an InputError
    saying what a round of this type takes. A pair round takes two ranks (``(1, 2)``, ``(2, 1)`` or a
    tie ``(1, 1)``)."""
    rt = parse_round_type(round_type)
    n = ROUND_SIZE[rt]
    values = list(ranks) if isinstance(ranks, Sequence | np.ndarray) and not isinstance(ranks, str) else None
    if (
        values is None
        or len(values) != n
        or not all(isinstance(r, int | np.integer) and not isinstance(r, bool) for r in values)
        or not all(1 <= int(r) <= n for r in values)
    ):
        raise InputError(f"{_rank_rule(rt)}; got {ranks!r}")
    comp = _competition(np.array([int(r) for r in values], dtype=np.int64))
    if rt is RoundType.BEST4 and sorted(comp.tolist()) not in ([1, 2, 2, 2], [1, 1, 1, 1]):
        raise InputError(f"{_rank_rule(rt)}; got {list(values)!r}")
    return tuple(int(r) for r in comp)


def rank_break(round_type: RoundType | str, ranks: Sequence[int]) -> list[tuple[int, int, Outcome]]:
    """Pairs (i, j) of display positions, i < j, with the outcome for position i as model_a.

    best4 with a pick: the pick against each other image (3 pairs); best4 with no clear best: six ties;
    order4: all six pairs; pair: the one pair.
    """
    rt = parse_round_type(round_type)
    comp = validate_ranks(rt, ranks)
    n = ROUND_SIZE[rt]
    out: list[tuple[int, int, Outcome]] = []
    for i in range(n):
        for j in range(i + 1, n):
            ri, rj = comp[i], comp[j]
            if rt is RoundType.BEST4 and ri == rj == 2:
                continue  # two unpicked images: the pick says nothing about their order
            outcome = Outcome.MODEL_A if ri < rj else Outcome.MODEL_B if ri > rj else Outcome.TIE
            out.append((i, j, outcome))
    return out


def rounds_to_battles(
    models: Sequence[str],
    players: np.ndarray | Sequence[Sequence[int]],
    ranks: np.ndarray | Sequence[Sequence[int]],
    round_types: Sequence[RoundType | str] | np.ndarray | RoundType | str,
    round_ids: np.ndarray | Sequence[int],
    tstamp: np.ndarray | Sequence[float] | None = None,
) -> Battles:
    """Many four-image rounds as rank-broken :class:`Battles` with the ``group`` column set, vectorised.

    ``players`` (n, 4) indexes ``models`` in display order, ``ranks`` (n, 4) are the ranks in the same
    order (validated and normalised as :func:`validate_ranks` does), ``round_types`` is one type for
    every round or one per round (best4 or order4), ``round_ids`` are the rounds' distinct non-negative
    ids and ``tstamp`` their times. Each round's battles are contiguous, in :data:`PAIRS4` order, and
    carry its id and time. Pair votes join with :meth:`Battles.concat`.
    """
    p = np.asarray(players, dtype=np.int64).reshape(-1, 4) if len(players) else np.zeros((0, 4), np.int64)
    r = np.asarray(ranks, dtype=np.int64).reshape(-1, 4) if len(ranks) else np.zeros((0, 4), np.int64)
    n = len(p)
    ids = np.asarray(round_ids, dtype=np.int64).reshape(-1)
    if len(r) != n or len(ids) != n or (tstamp is not None and len(tstamp) != n):
        raise InputError("players, ranks, round ids and tstamps must have one row per round")
    if isinstance(round_types, str):
        best = np.full(n, parse_round_type(round_types) is RoundType.BEST4)
        types = [parse_round_type(round_types)]
    else:
        codes = [parse_round_type(t) for t in np.asarray(round_types, dtype=object).reshape(-1).tolist()]
        if len(codes) != n:
            raise InputError("give one round type, or one per round")
        best = np.array([t is RoundType.BEST4 for t in codes], dtype=bool)
        types = codes
    if any(t is RoundType.PAIR for t in types):
        raise InputError("pair votes are battles already: build them with Battles.from_records")

    def fail(k: int, what: str) -> InputError:
        return InputError(f"round {k + 1} (id {int(ids[k])}): {what}")

    if n:
        bad = np.flatnonzero((p < 0).any(axis=1) | (p >= len(models)).any(axis=1))
        if len(bad):
            raise fail(int(bad[0]), f"a model index is outside 0..{len(models) - 1}")
        srt = np.sort(p, axis=1)
        bad = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if len(bad):
            raise fail(int(bad[0]), "shows one model twice; a round needs four different models")
        bad = np.flatnonzero(((r < 1) | (r > 4)).any(axis=1))
        if len(bad):
            rt = RoundType.BEST4 if best[bad[0]] else RoundType.ORDER4
            raise fail(int(bad[0]), f"{_rank_rule(rt)}; got {r[bad[0]].tolist()}")
        if ids.min() < 0:
            raise fail(int(np.argmin(ids)), "round ids must be non-negative")
        if len(np.unique(ids)) != n:
            raise InputError("round ids must be distinct, one per round")
    comp = _competition(r)
    ones = (comp == 1).sum(axis=1)
    picked = (ones == 1) & ((comp == 2).sum(axis=1) == 3)
    bad = np.flatnonzero(best & ~(picked | (ones == 4)))
    if len(bad):
        raise fail(int(bad[0]), f"{_rank_rule(RoundType.BEST4)}; got {r[bad[0]].tolist()}")
    ri, rj = comp[:, _I4], comp[:, _J4]
    keep = ~(best[:, None] & (ri == 2) & (rj == 2))
    outcome = np.where(ri < rj, MODEL_A, np.where(ri > rj, MODEL_B, TIE))[keep]
    per_round = keep.sum(axis=1)
    return Battles(
        list(models),
        p[:, _I4][keep],
        p[:, _J4][keep],
        outcome,
        None if tstamp is None else np.repeat(np.asarray(tstamp, dtype=np.float64), per_round),
        np.repeat(ids, per_round),
    )


__all__ = [
    "NO_GROUP",
    "PAIRS4",
    "ROUND_SIZE",
    "rank_break",
    "parse_round_type",
    "rounds_to_battles",
    "validate_ranks",
]
