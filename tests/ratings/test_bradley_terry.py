"""Bradley-Terry: agreement with a per-row likelihood fit, invariances, centring, anchoring, intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from imagearena.errors import InputError, UnknownNameError
from imagearena.ratings import Battles, leaderboard
from imagearena.ratings.bradley_terry import PairCounts, aggregate, bootstrap_bt, fit_bt

WINNERS = ["model_a", "model_b", "tie", "both_bad"]


def synthetic(seed: int, m: int = 6, n: int = 3000, tie_share: float = 0.25) -> tuple[Battles, np.ndarray]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 150, m)
    a = rng.integers(0, m, n).astype(np.int32)
    b = ((a + rng.integers(1, m, n)) % m).astype(np.int32)
    p = 1 / (1 + 10 ** ((strength[b] - strength[a]) / 400))
    o = np.where(rng.random(n) < tie_share, rng.integers(2, 4, n), (rng.random(n) > p).astype(int))
    return Battles([f"m{i}" for i in range(m)], a, b, o.astype(np.int8)), strength


def ratings_of(battles: Battles, **kw: object) -> dict[str, tuple[float, float | None, float | None]]:
    return {r.model: (r.rating, r.lower, r.upper) for r in leaderboard(battles, "bt", **kw)}  # type: ignore[arg-type]


def test_matches_a_per_row_logistic_fit() -> None:
    """Independent check: maximise the per-row likelihood (ties as half a win) with L-BFGS."""
    battles, _ = synthetic(0, m=5, n=800)
    m = battles.n_models
    y = np.array([1.0, 0.0, 0.5, 0.5])[battles.outcome]
    c = np.log(10) / 400

    def nll(r: np.ndarray) -> tuple[float, np.ndarray]:
        d = c * (r[battles.a] - r[battles.b])
        p = 1 / (1 + np.exp(-d))
        res = c * (y - p)
        g = np.bincount(battles.a, res, minlength=m) - np.bincount(battles.b, res, minlength=m)
        return float(np.sum(np.logaddexp(0, d) - y * d)), -g

    ref = minimize(nll, np.zeros(m), jac=True, method="L-BFGS-B", options={"gtol": 1e-12}).x
    ref += 1000 - ref.mean()
    fit = fit_bt(aggregate(battles))
    np.testing.assert_allclose(fit.ratings, ref, atol=1e-3)


def test_recovers_true_strengths() -> None:
    battles, strength = synthetic(1, m=8, n=40_000, tie_share=0.0)  # random ties would shrink the scale
    fit = fit_bt(aggregate(battles))
    np.testing.assert_allclose(fit.ratings - 1000, strength - strength.mean(), atol=40)


def test_invariant_to_battle_order() -> None:
    battles, _ = synthetic(2)
    perm = np.random.default_rng(0).permutation(len(battles))
    shuffled = Battles(battles.models, battles.a[perm], battles.b[perm], battles.outcome[perm])
    for m, row in ratings_of(battles).items():
        assert row == pytest.approx(ratings_of(shuffled)[m])


def test_invariant_to_swapping_sides_with_flipped_winner() -> None:
    battles, _ = synthetic(3)
    flip = np.array([1, 0, 2, 3], dtype=np.int8)[battles.outcome]
    swapped = Battles(battles.models, battles.b, battles.a, flip)
    for (r1, lo1, up1), (r2, lo2, up2) in zip(
        ratings_of(battles).values(), ratings_of(swapped).values(), strict=True
    ):
        assert (r1, lo1, up1) == pytest.approx((r2, lo2, up2), abs=1e-6)


def test_centred_on_1000() -> None:
    battles, _ = synthetic(4)
    r = ratings_of(battles)
    assert np.mean([v[0] for v in r.values()]) == pytest.approx(1000.0)


def test_anchor_pins_one_model_and_keeps_differences() -> None:
    battles, _ = synthetic(5)
    free = ratings_of(battles)
    pinned = ratings_of(battles, anchor=("m2", 1200.0))
    assert pinned["m2"][0] == pytest.approx(1200.0)
    assert pinned["m2"][1] == pytest.approx(1200.0) and pinned["m2"][2] == pytest.approx(1200.0)
    for m in free:
        assert pinned[m][0] - pinned["m2"][0] == pytest.approx(free[m][0] - free["m2"][0])
    with pytest.raises(UnknownNameError):
        leaderboard(battles, "bt", anchor=("nope", 1000.0))


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_intervals_shrink_with_more_data(ci: str) -> None:
    small, _ = synthetic(6, n=500)
    big, _ = synthetic(6, n=8000)
    w_small = [u - lo for _, lo, u in ratings_of(small, ci=ci, rounds=60).values()]
    w_big = [u - lo for _, lo, u in ratings_of(big, ci=ci, rounds=60).values()]
    assert all(b < s for b, s in zip(w_big, w_small, strict=True))
    # 16 times the data: about a quarter of the width
    assert np.median(np.array(w_big) / np.array(w_small)) == pytest.approx(0.25, rel=0.3)


def test_intervals_contain_the_estimate_and_agree_across_methods() -> None:
    battles, _ = synthetic(7, n=20_000)
    sand = ratings_of(battles)
    boot = ratings_of(battles, ci="bootstrap", rounds=200)
    for m, (r, lo, up) in sand.items():
        assert lo < r < up
        assert (boot[m][2] - boot[m][1]) == pytest.approx(up - lo, rel=0.3)


def test_bootstrap_is_seeded() -> None:
    battles, _ = synthetic(8, n=2000)
    counts = aggregate(battles)
    first = bootstrap_bt(counts, rounds=20, seed=3)
    np.testing.assert_array_equal(first, bootstrap_bt(counts, rounds=20, seed=3))
    assert not np.array_equal(first, bootstrap_bt(counts, rounds=20, seed=4))
    with pytest.raises(InputError):
        bootstrap_bt(counts, rounds=0)


def test_uniform_weights_change_nothing_and_weights_act_as_copies() -> None:
    battles, _ = synthetic(9, n=1500)
    plain = fit_bt(aggregate(battles))
    scaled = fit_bt(aggregate(battles, np.full(len(battles), 3.0)))
    np.testing.assert_allclose(scaled.ratings, plain.ratings, atol=1e-6)
    np.testing.assert_allclose(scaled.cov, plain.cov, rtol=1e-6, atol=1e-9)
    w = np.where(np.arange(len(battles)) % 2 == 0, 2.0, 1.0)
    doubled = np.concatenate([np.arange(len(battles)), np.arange(0, len(battles), 2)])
    copies = Battles(battles.models, battles.a[doubled], battles.b[doubled], battles.outcome[doubled])
    np.testing.assert_allclose(
        fit_bt(aggregate(battles, w)).ratings, fit_bt(aggregate(copies)).ratings, atol=1e-6
    )


def test_bad_weights() -> None:
    battles, _ = synthetic(10, n=10)
    with pytest.raises(InputError, match="one value per battle"):
        aggregate(battles, np.ones(3))
    with pytest.raises(InputError, match="positive"):
        aggregate(battles, -np.ones(10))


def test_aggregation_counts_cells() -> None:
    b = Battles.from_records(
        ["x", "y", "x", "y", "x"],
        ["y", "x", "y", "x", "y"],
        ["model_a", "model_a", "model_b", "tie", "both_bad"],
    )
    c = aggregate(b)
    assert c.i.tolist() == [0] and c.j.tolist() == [1]
    assert c.n.tolist() == [[1.0, 2.0, 2.0]]  # x won once, y twice, two draws


def test_pair_counts_constructors_agree() -> None:
    battles, _ = synthetic(11, m=4, n=600)
    counts = aggregate(battles)
    wins = np.zeros((4, 4))
    ties = np.zeros((4, 4))
    wins[counts.i, counts.j] = counts.n[:, 0]
    wins[counts.j, counts.i] = counts.n[:, 1]
    ties[counts.i, counts.j] = ties[counts.j, counts.i] = counts.n[:, 2]
    from_m = fit_bt(PairCounts.from_matrices(wins, ties))
    from_a = fit_bt(
        PairCounts.from_arrays(4, counts.j, counts.i, counts.n[:, 1], counts.n[:, 0], counts.n[:, 2])
    )
    np.testing.assert_allclose(from_m.ratings, fit_bt(counts).ratings, atol=1e-9)
    np.testing.assert_allclose(from_a.ratings, fit_bt(counts).ratings, atol=1e-9)
    np.testing.assert_allclose(from_m.cov, fit_bt(counts).cov, atol=1e-9)


def test_warm_start_gives_the_same_fit_in_fewer_steps() -> None:
    battles, _ = synthetic(12)
    counts = aggregate(battles)
    cold = fit_bt(counts)
    warm = fit_bt(counts, init=cold.theta)
    np.testing.assert_allclose(warm.ratings, cold.ratings, atol=1e-8)
    assert warm.n_iter < cold.n_iter


def test_many_models_path_agrees_with_dense() -> None:
    battles, _ = synthetic(13, m=12, n=6000)
    counts = aggregate(battles)
    dense = fit_bt(counts)
    sparse = fit_bt(counts, dense_limit=5)
    np.testing.assert_allclose(sparse.ratings, dense.ratings, atol=1e-3)
    assert sparse.cov.shape == (12,)
    assert np.all(sparse.std > 0) and np.all(sparse.std < 2 * dense.std)


def test_models_without_battles_stay_at_the_centre() -> None:
    battles, _ = synthetic(14, m=3, n=300)
    wider = Battles(["m0", "m1", "m2", "zz"], battles.a, battles.b, battles.outcome)
    fit = fit_bt(aggregate(wider))
    assert fit.ratings[3] == 1000.0 and np.isinf(fit.std[3])
    assert np.mean(fit.ratings[:3]) == pytest.approx(1000.0)
    rows = leaderboard(wider, "bt")
    assert [r.lower for r in rows if r.model == "zz"] == [None]
    anchored = {r.model: r for r in leaderboard(wider, "bt", anchor=("m0", 1200.0))}
    assert anchored["zz"].lower is None and anchored["zz"].upper is None
    assert {r.model: r.rank for r in anchored.values() if r.model != "zz"} == {
        r.model: r.rank for r in leaderboard(battles, "bt", anchor=("m0", 1200.0))
    }


@pytest.mark.parametrize("m", [5, 700])  # 700 models: the sparse (sorted cells) aggregation path
def test_chunked_aggregation_matches_a_plain_count(m: int) -> None:
    rng = np.random.default_rng(15)
    n = 3000
    a = rng.integers(0, m, n).astype(np.int32)
    b = ((a + rng.integers(1, m, n)) % m).astype(np.int32)
    o = rng.integers(0, 4, n).astype(np.int8)
    w = rng.uniform(0.5, 2.0, n)
    counts = aggregate(Battles([f"m{i}" for i in range(m)], a, b, o), w, chunk=257)  # many chunks, merged
    expected: dict[tuple[int, int, int], list[float]] = {}
    for x, y, z, wt in zip(a.tolist(), b.tolist(), o.tolist(), w.tolist(), strict=True):
        lo, hi = min(x, y), max(x, y)
        rel = 2 if z >= 2 else (0 if (z == 0) == (x == lo) else 1)
        cell = expected.setdefault((lo, hi, rel), [0, 0.0, 0.0])
        cell[0] += 1
        cell[1] += wt
        cell[2] += wt * wt
    got = {
        (i, j, r): [counts.n[k, r], counts.w[k, r], counts.w2[k, r]]
        for k, (i, j) in enumerate(zip(counts.i.tolist(), counts.j.tolist(), strict=True))
        for r in range(3)
        if counts.n[k, r] > 0
    }
    assert got.keys() == expected.keys()
    for cell, values in expected.items():
        assert got[cell] == pytest.approx(values)


def test_two_model_hand_case() -> None:
    # x beats y 3 times out of 4: the MLE has P(x beats y) = 3/4, so r_x - r_y = 400 log10(3) = 190.85,
    # centred on 1000: 1095.42 and 904.58.
    # Sandwich on the natural scale: H = n p (1 - p) = 4 * 3/16 = 0.75, B = 3 (1/4)^2 + (3/4)^2 = 0.75,
    # var(d) = B / H^2 = 4/3; each centred rating carries half of d: sd = (400 / ln 10) sqrt(4/3) / 2
    # = 100.29 Elo points, so the 95% half-width is 1.96 * 100.29 = 196.58.
    b = Battles.from_records(
        ["x", "y", "x", "x"], ["y", "x", "y", "y"], ["model_a", "model_a", "model_a", "model_a"]
    )
    rows = {r.model: r for r in leaderboard(b, "bt")}
    assert rows["x"].rating == pytest.approx(1095.4243, abs=1e-3)
    assert rows["y"].rating == pytest.approx(904.5757, abs=1e-3)
    assert rows["x"].upper - rows["x"].rating == pytest.approx(196.5766, abs=1e-3)
    # one win each and two draws: equal ratings
    even = Battles.from_records(
        ["x", "x", "y", "y"], ["y", "y", "x", "x"], ["model_a", "tie", "model_a", "both_bad"]
    )
    assert [r.rating for r in leaderboard(even, "bt")] == pytest.approx([1000.0, 1000.0])


battle_rows = st.lists(
    st.tuples(st.integers(0, 4), st.integers(1, 4), st.integers(0, 3)), min_size=1, max_size=60
)


@settings(max_examples=40, deadline=None)
@given(rows=battle_rows, seed=st.integers(0, 2**16))
def test_properties_on_arbitrary_battles(rows: list[tuple[int, int, int]], seed: int) -> None:
    a = np.array([r[0] for r in rows], dtype=np.int32)
    b = ((a + np.array([r[1] for r in rows])) % 5).astype(np.int32)
    o = np.array([r[2] for r in rows], dtype=np.int8)
    models = [f"m{i}" for i in range(5)]
    base = fit_bt(aggregate(Battles(models, a, b, o)))
    perm = np.random.default_rng(seed).permutation(len(rows))
    shuffled = fit_bt(aggregate(Battles(models, a[perm], b[perm], o[perm])))
    flipped = fit_bt(aggregate(Battles(models, b, a, np.array([1, 0, 2, 3], dtype=np.int8)[o])))
    np.testing.assert_allclose(shuffled.ratings, base.ratings, atol=1e-6)
    np.testing.assert_allclose(flipped.ratings, base.ratings, atol=1e-6)
    assert np.mean(base.ratings) == pytest.approx(1000.0)
