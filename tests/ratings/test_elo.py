"""Online Elo against hand-computed updates."""

from __future__ import annotations

import pytest

from imagearena.ratings import Battles
from imagearena.ratings.elo import online_elo


def _elo(a: list[str], b: list[str], w: list[str], ts: list[float] | None = None, **kw: float) -> dict:
    battles = Battles.from_records(a, b, w, ts)
    return dict(zip(battles.models, online_elo(battles, **kw).tolist(), strict=True))


def test_first_win_moves_half_k() -> None:
    # equal ratings: expected score 0.5, so the winner gains K/2 = 16
    assert _elo(["x"], ["y"], ["model_a"]) == {"x": 1016.0, "y": 984.0}
    assert _elo(["x"], ["y"], ["model_b"]) == {"x": 984.0, "y": 1016.0}


def test_upset_after_a_win() -> None:
    # x 1016, y 984: E_y = 1 / (1 + 10 ** (32 / 400)) = 0.4540781, y gains 32 * 0.5459219 = 17.46950
    r = _elo(["x", "x"], ["y", "y"], ["model_a", "model_b"])
    assert r["y"] == pytest.approx(1001.4695015, abs=1e-6)
    assert r["x"] == pytest.approx(998.5304985, abs=1e-6)


@pytest.mark.parametrize("draw", ["tie", "both_bad"])
def test_draws_are_half_a_win(draw: str) -> None:
    assert _elo(["x"], ["y"], [draw]) == {"x": 1000.0, "y": 1000.0}
    # after x won once (1016 vs 984) a draw costs x 32 * (0.5459219 - 0.5) = 1.4695
    r = _elo(["x", "x"], ["y", "y"], ["model_a", draw])
    assert r["x"] == pytest.approx(1014.5304985, abs=1e-6)
    assert r["y"] == pytest.approx(985.4695015, abs=1e-6)


def test_k_factor() -> None:
    assert _elo(["x"], ["y"], ["model_a"], k=4.0) == {"x": 1002.0, "y": 998.0}


def test_replays_in_tstamp_order() -> None:
    a, b, w = ["x", "x"], ["y", "y"], ["model_a", "model_b"]
    in_file_order = _elo(a, b, w)
    reversed_by_time = _elo(a, b, w, [2.0, 1.0])
    assert reversed_by_time["x"] == pytest.approx(1001.4695015, abs=1e-6)
    assert in_file_order != reversed_by_time


def test_rating_sum_is_conserved() -> None:
    r = _elo(["x", "y", "z", "x"], ["y", "z", "x", "z"], ["model_a", "tie", "model_b", "both_bad"])
    assert sum(r.values()) == pytest.approx(3000.0)
