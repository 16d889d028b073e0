"""Four-image rounds: rank validation, rank-breaking and the vectorised Battles builder."""

from __future__ import annotations

import numpy as np
import pytest

from imagearena.errors import InputError
from imagearena.ratings import Battles
from imagearena.ratings.battles import NO_GROUP
from imagearena.ratings.rounds import rank_break, rounds_to_battles, validate_ranks
from imagearena.types import Outcome, RoundType

A, B, T = Outcome.MODEL_A, Outcome.MODEL_B, Outcome.TIE


@pytest.mark.parametrize(
    ("round_type", "ranks", "expected"),
    [
        (RoundType.BEST4, [2, 1, 2, 2], (2, 1, 2, 2)),
        (RoundType.BEST4, [4, 4, 1, 4], (2, 2, 1, 2)),
        (RoundType.BEST4, [1, 1, 1, 1], (1, 1, 1, 1)),
        (RoundType.ORDER4, [1, 2, 2, 3], (1, 2, 2, 4)),
        (RoundType.ORDER4, [1, 2, 2, 4], (1, 2, 2, 4)),
        (RoundType.ORDER4, [4, 3, 2, 1], (4, 3, 2, 1)),
        (RoundType.ORDER4, [2, 2, 1, 1], (3, 3, 1, 1)),
        ("order4", [3, 3, 3, 3], (1, 1, 1, 1)),
        (RoundType.PAIR, [2, 1], (2, 1)),
    ],
)
def test_validate_ranks_normalises_to_competition_ranks(
    round_type: str, ranks: list, expected: tuple
) -> None:
    assert validate_ranks(round_type, ranks) == expected


@pytest.mark.parametrize(
    ("round_type", "ranks", "message"),
    [
        (RoundType.BEST4, [1, 1, 2, 2], "best4 ranks give the picked image rank 1"),
        (RoundType.BEST4, [1, 2, 3, 4], "best4 ranks"),
        (RoundType.BEST4, [1, 2, 2], "best4 ranks"),
        (RoundType.ORDER4, [0, 1, 2, 3], "order4 ranks are 4 integers from 1"),
        (RoundType.ORDER4, [1, 2, 3, 5], "order4 ranks"),
        (RoundType.ORDER4, [1, 2, 3, 4, 4], "order4 ranks"),
        (RoundType.ORDER4, [1.0, 2, 3, 4], "order4 ranks"),
        (RoundType.ORDER4, [True, 2, 3, 4], "order4 ranks"),
        (RoundType.ORDER4, "1234", "order4 ranks"),
        ("best5", [1, 2, 2, 2], "unknown round type 'best5'"),
    ],
)
def test_validate_ranks_refuses_with_the_rule(round_type: str, ranks: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_ranks(round_type, ranks)


def test_best4_pick_breaks_into_three_pairs() -> None:
    assert rank_break(RoundType.BEST4, [2, 2, 1, 2]) == [(0, 2, B), (1, 2, B), (2, 3, A)]
    assert rank_break(RoundType.BEST4, [1, 2, 2, 2]) == [(0, 1, A), (0, 2, A), (0, 3, A)]


def test_best4_no_clear_best_is_six_ties() -> None:
    assert rank_break(RoundType.BEST4, [1, 1, 1, 1]) == [
        (0, 1, T), (0, 2, T), (0, 3, T), (1, 2, T), (1, 3, T), (2, 3, T)
    ]  # fmt: skip


def test_order4_breaks_into_six_pairs_with_ties() -> None:
    assert rank_break(RoundType.ORDER4, [3, 1, 1, 4]) == [
        (0, 1, B), (0, 2, B), (0, 3, A), (1, 2, T), (1, 3, A), (2, 3, A)
    ]  # fmt: skip
    assert rank_break(RoundType.PAIR, [1, 1]) == [(0, 1, T)]


def test_rounds_to_battles_equals_rank_break_row_by_row() -> None:
    rng = np.random.default_rng(0)
    models = [f"m{k}" for k in range(9)]
    n = 200
    players = np.array([rng.choice(9, 4, replace=False) for _ in range(n)])
    types = rng.choice([RoundType.BEST4, RoundType.ORDER4], n)
    ranks = []
    for t in types:
        if t == RoundType.ORDER4:
            ranks.append(rng.integers(1, 5, 4).tolist())
        elif rng.random() < 0.2:
            ranks.append([1, 1, 1, 1])
        else:
            r = [2, 2, 2, 2]
            r[int(rng.integers(4))] = 1
            ranks.append(r)
    ids = rng.permutation(10 * n)[:n]
    ts = np.sort(rng.random(n))
    got = rounds_to_battles(models, players, ranks, types, ids, ts)
    assert got.a.dtype == np.int32 and got.group is not None and got.group.dtype == np.int64
    expected: list[tuple[int, int, int, int, float]] = []
    for k in range(n):
        for i, j, o in rank_break(types[k], ranks[k]):
            expected.append((players[k, i], players[k, j], o.code, ids[k], ts[k]))
    rows = list(zip(got.a, got.b, got.outcome, got.group, got.tstamp, strict=True))  # type: ignore[arg-type]
    assert [tuple(map(float, r)) for r in rows] == [tuple(map(float, e)) for e in expected]


def test_rounds_to_battles_single_type_and_no_tstamps() -> None:
    got = rounds_to_battles(["w", "x", "y", "z"], [[3, 2, 1, 0]], [[1, 2, 2, 2]], "best4", [7])
    assert got.to_battles()[0].model_a == "z" and got.outcome.tolist() == [0, 0, 0]
    assert got.tstamp is None and got.group is not None and got.group.tolist() == [7, 7, 7]
    empty = rounds_to_battles(["w"], [], [], "order4", [])
    assert len(empty) == 0 and empty.group is not None


@pytest.mark.parametrize(
    ("players", "ranks", "types", "ids", "message"),
    [
        (
            [[0, 1, 2, 3], [0, 1, 1, 3]],
            [[1, 2, 3, 4]] * 2,
            "order4",
            [1, 2],
            r"round 2 \(id 2\): shows one model twice",
        ),
        ([[0, 1, 2, 9]], [[1, 2, 3, 4]], "order4", [1], "outside 0..4"),
        ([[0, 1, 2, 3]], [[1, 2, 3, 4]], "best4", [5], r"round 1 \(id 5\): best4 ranks"),
        ([[0, 1, 2, 3]], [[0, 2, 3, 4]], ["order4"], [5], "order4 ranks are 4 integers"),
        ([[0, 1, 2, 3]], [[1, 2, 3, 4]], ["pair"], [5], "pair votes are battles already"),
        ([[0, 1, 2, 3]], [[1, 2, 3, 4]], ["order4", "best4"], [5], "one per round"),
        ([[0, 1, 2, 3]] * 2, [[1, 2, 3, 4]] * 2, "order4", [5, 5], "distinct"),
        ([[0, 1, 2, 3]], [[1, 2, 3, 4]], "order4", [-1], "non-negative"),
    ],
)
def test_rounds_to_battles_refuses(
    players: list, ranks: list, types: object, ids: list, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        rounds_to_battles(["v", "w", "x", "y", "z"], players, ranks, types, ids)  # type: ignore[arg-type]


def test_group_column_is_optional_and_kept_by_take_and_concat() -> None:
    pairs = Battles.from_records(["x", "y"], ["y", "z"], ["model_a", "tie"], [1.0, 5.0])
    assert pairs.group is None
    assert pairs.groups().tolist() == [NO_GROUP, NO_GROUP]
    rounds = rounds_to_battles(["w", "x", "y", "z"], [[0, 1, 2, 3]], [[1, 2, 2, 2]], "best4", [3], [2.0])
    both = Battles.concat([pairs, rounds])
    assert both.models == ["w", "x", "y", "z"]
    assert both.group is not None and both.group.tolist() == [-1, -1, 3, 3, 3]
    assert both.tstamp is not None and both.tstamp.tolist() == [1.0, 5.0, 2.0, 2.0, 2.0]
    assert [b.model_a for b in both.to_battles()] == ["x", "y", "w", "w", "w"]
    prefix = both.take(both.order()[:4])  # replay order: the round (t=2) comes before the tie (t=5)
    assert prefix.group is not None and prefix.group.tolist() == [-1, 3, 3, 3]
    assert prefix.tstamp is not None and prefix.tstamp.tolist() == [1.0, 2.0, 2.0, 2.0]
    assert Battles.concat([pairs, pairs]).group is None
    assert Battles.concat([pairs, Battles.empty()]).tstamp is not None
    assert len(Battles.concat([])) == 0


def test_from_records_takes_round_ids() -> None:
    b = Battles.from_records(["x", "x"], ["y", "z"], ["tie", "model_a"], group=[None, 4])
    assert b.group is not None and b.group.tolist() == [-1, 4]
    with pytest.raises(InputError, match="row 2: round id 'r1'"):
        Battles.from_records(["x", "x"], ["y", "z"], ["tie", "tie"], group=[None, "r1"])  # type: ignore[list-item]
    with pytest.raises(InputError, match="different lengths"):
        Battles(["x", "y"], [0], [1], [0], None, [1, 2])  # type: ignore[arg-type]
