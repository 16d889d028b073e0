"""Leaderboard rows (sorting, upper-bound ranks, counts) and pairwise matrices."""

from __future__ import annotations

import numpy as np
import pytest

from imagearena.errors import InputError
from imagearena.ratings import Battles, battle_count_matrix, leaderboard, upper_bound_ranks, win_rate_matrix

A = ["x", "x", "y", "z", "x", "y"]
B = ["y", "z", "z", "x", "y", "x"]
W = ["model_a", "model_a", "tie", "model_b", "both_bad", "model_b"]


def test_upper_bound_ranks_hand_case() -> None:
    lower = np.array([10.0, 8.0, 3.0, 0.0])
    upper = np.array([14.0, 12.0, 9.0, 2.0])
    # model 2's upper (9) is below model 0's lower (10): rank 2; model 3 is below all three: rank 4
    assert upper_bound_ranks(lower, upper).tolist() == [1, 1, 2, 4]


@pytest.mark.parametrize("method", ["elo", "trueskill", "bt"])
def test_rows_are_sorted_ranked_and_counted(method: str) -> None:
    rows = leaderboard(Battles.from_records(A, B, W), method)  # type: ignore[arg-type]
    by_model = {r.model: r for r in rows}
    assert (by_model["x"].votes, by_model["x"].wins, by_model["x"].losses, by_model["x"].ties) == (5, 4, 0, 1)
    assert (by_model["y"].wins, by_model["y"].losses, by_model["y"].ties) == (0, 2, 2)
    assert (by_model["z"].wins, by_model["z"].losses, by_model["z"].ties) == (0, 2, 1)
    key = [r.rating if method != "trueskill" else r.lower for r in rows]
    assert key == sorted(key, reverse=True)
    assert rows[0].model == "x" and rows[0].rank == 1
    assert [r.rank for r in rows] == sorted(r.rank for r in rows)
    if method == "elo":
        assert all(r.lower is None and r.upper is None for r in rows)
    if method == "trueskill":
        for r in rows:
            assert r.rating - r.lower == pytest.approx(r.upper - r.rating)


def test_trueskill_rating_is_mu_and_bounds_three_sigma() -> None:
    from imagearena.ratings.trueskill import replay_trueskill

    battles = Battles.from_records(A, B, W)
    mu, sigma = replay_trueskill(battles)
    rows = {r.model: r for r in leaderboard(battles, "trueskill")}
    for k, m in enumerate(battles.models):
        assert rows[m].rating == pytest.approx(mu[k])
        assert rows[m].lower == pytest.approx(mu[k] - 3 * sigma[k])


def test_elo_ranks_share_equal_ratings() -> None:
    rows = leaderboard(Battles.from_records(["a", "c"], ["b", "d"], ["model_a", "model_a"]), "elo")
    assert [(r.model, r.rank) for r in rows] == [("a", 1), ("c", 1), ("b", 3), ("d", 3)]


def test_empty_battles_give_unrated_rows() -> None:
    for method in ("elo", "trueskill", "bt"):
        rows = leaderboard(Battles.empty(["p", "q"]), method)  # type: ignore[arg-type]
        assert [r.votes for r in rows] == [0, 0] and [r.rank for r in rows] == [1, 1]


def test_bad_arguments() -> None:
    battles = Battles.from_records(A, B, W)
    with pytest.raises(InputError, match="unknown rating method"):
        leaderboard(battles, "glicko")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="confidence interval"):
        leaderboard(battles, "bt", ci="jackknife")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="K factor"):
        leaderboard(battles, "elo", k=0.0)
    with pytest.raises(InputError, match="weights"):
        leaderboard(battles, "elo", weights=np.ones(len(battles)))


def test_matrices_hand_case() -> None:
    models, n = battle_count_matrix(Battles.from_records(A, B, W))
    assert models == ["x", "y", "z"]
    assert n.tolist() == [[0, 3, 2], [3, 0, 1], [2, 1, 0]]
    _, w = win_rate_matrix(Battles.from_records(A, B, W))
    # x vs y: win, both_bad (half), win for x as model_b -> 2.5 / 3
    assert w[0, 1] == pytest.approx(2.5 / 3)
    assert w[1, 0] == pytest.approx(0.5 / 3)
    assert w[0, 2] == 1.0 and w[2, 0] == 0.0
    assert w[1, 2] == 0.5
    assert np.isnan(w[0, 0])
    off_diagonal = ~np.eye(3, dtype=bool)
    assert np.allclose((w + w.T)[off_diagonal], 1.0)


def test_unknown_bounds_claim_no_rank() -> None:
    lower = np.array([10.0, np.nan, 3.0])
    upper = np.array([14.0, np.nan, 5.0])
    assert upper_bound_ranks(lower, upper).tolist() == [1, 1, 2]
