"""Columnar battles: construction, validation naming the row, replay order, counts."""

from __future__ import annotations

import numpy as np
import pytest

from imagearena.errors import InputError
from imagearena.ratings import Battles
from imagearena.types import Battle, Outcome


def test_from_records_codes_and_sorted_models() -> None:
    b = Battles.from_records(["y", "x", "z"], ["x", "z", "y"], ["model_a", "tie", "both_bad"])
    assert b.models == ["x", "y", "z"]
    assert b.a.tolist() == [1, 0, 2] and b.b.tolist() == [0, 2, 1]
    assert b.outcome.tolist() == [0, 2, 3]
    assert b.a.dtype == np.int32 and b.outcome.dtype == np.int8
    assert b.tstamp is None and len(b) == 3


def test_public_log_spelling_of_both_bad() -> None:
    b = Battles.from_records(["x"], ["y"], ["tie (bothbad)"])
    assert b.outcome.tolist() == [3]


@pytest.mark.parametrize(
    ("winner", "message"),
    [
        (["model_a", "draw"], "row 2: unknown winner 'draw'"),
        (["model_a", None], "row 2: unknown winner None"),
    ],
)
def test_unknown_winner_names_the_row(winner: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Battles.from_records(["x", "x"], ["y", "y"], winner)


def test_self_play_names_the_row() -> None:
    with pytest.raises(InputError, match="row 3: model 'x' plays itself"):
        Battles.from_records(["x", "y", "x"], ["y", "x", "x"], ["tie"] * 3)


def test_bad_tstamp_names_the_row() -> None:
    with pytest.raises(InputError, match="row 2: tstamp 'soon'"):
        Battles.from_records(["x", "x"], ["y", "y"], ["tie", "tie"], [1.0, "soon"])  # type: ignore[list-item]


def test_order_is_stable_by_tstamp_else_file_order() -> None:
    b = Battles.from_records(["x"] * 4, ["y"] * 4, ["tie"] * 4, [3.0, 1.0, 3.0, 2.0])
    assert b.order().tolist() == [1, 3, 0, 2]
    assert Battles.from_records(["x"] * 3, ["y"] * 3, ["tie"] * 3).order().tolist() == [0, 1, 2]


def test_from_battles_round_trip_and_counts() -> None:
    src = [
        Battle("x", "y", Outcome.MODEL_A, 1.0),
        Battle("y", "z", Outcome.BOTH_BAD, 2.0),
        Battle("z", "x", Outcome.MODEL_B, 3.0),
        Battle("x", "z", Outcome.TIE, 4.0),
    ]
    b = Battles.from_battles(src)
    assert b.to_battles() == src
    votes, wins, losses, ties = b.counts()
    assert votes.tolist() == [3, 2, 3]
    assert wins.tolist() == [2, 0, 0]
    assert losses.tolist() == [0, 1, 1]
    assert ties.tolist() == [1, 1, 2]


def test_from_battles_drops_partial_tstamps() -> None:
    b = Battles.from_battles([Battle("x", "y", Outcome.TIE, 1.0), Battle("x", "y", Outcome.TIE)])
    assert b.tstamp is None


def test_direct_construction_coerces_dtypes_and_checks_lengths() -> None:
    b = Battles(["x", "y"], [0, 1], np.array([1, 0], dtype=np.int64), [0, 2])  # type: ignore[arg-type]
    assert b.a.dtype == np.int32 and b.b.dtype == np.int32 and b.outcome.dtype == np.int8
    with pytest.raises(InputError, match="different lengths"):
        Battles(["x", "y"], np.array([0]), np.array([1, 0]), np.array([0]))
