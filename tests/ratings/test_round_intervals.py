"""Bradley-Terry intervals on rank-broken four-image rounds: a round's battles come from one decision,
so the sandwich sums each round's scores and the bootstrap redraws whole rounds."""

from __future__ import annotations

import numpy as np
import pytest

from imagearena.ratings import Battles, leaderboard
from imagearena.ratings.bradley_terry import ELO_PER_NAT, aggregate, fit_bt
from imagearena.ratings.rounds import rank_break
from imagearena.ratings.simulate import RoundVoter
from imagearena.types import RoundType

NAMES = [f"m{k}" for k in range(8)]
TRUTH = np.random.default_rng(0).normal(0.0, 100.0, len(NAMES))


def _rounds(rt: RoundType, n_rounds: int, seed: int, *, pairs: int = 0) -> Battles:
    """``n_rounds`` uniform four-image rounds answered by a Plackett-Luce crowd on TRUTH, rank-broken,
    then ``pairs`` pair votes (no round) between random models."""
    rng = np.random.default_rng(seed)
    voter = RoundVoter(TRUTH, 0.0, rng)
    a, b, winner, group = [], [], [], []
    for r in range(n_rounds):
        idx = rng.choice(len(NAMES), 4, replace=False).tolist()
        ranks = voter.best4(idx) if rt is RoundType.BEST4 else voter.order4(idx)
        for x, y, outcome in rank_break(rt, ranks):
            a.append(NAMES[idx[x]])
            b.append(NAMES[idx[y]])
            winner.append(outcome.value)
            group.append(r)
    for _ in range(pairs):
        i, j = rng.choice(len(NAMES), 2, replace=False).tolist()
        a.append(NAMES[i])
        b.append(NAMES[j])
        winner.append("model_a" if voter.vote(i, j) == 0 else "model_b")
        group.append(None)
    return Battles.from_records(a, b, winner, group=group)


def _without_rounds(battles: Battles) -> Battles:
    return Battles(battles.models, battles.a, battles.b, battles.outcome)


@pytest.mark.parametrize("rt", [RoundType.BEST4, RoundType.ORDER4])
def test_sandwich_intervals_cover_the_truth_at_their_level(rt: RoundType) -> None:
    """Over 120 seeded rankings the 95% intervals hold the true (centred) ratings about 95% of the
    time; read as independent battles they held them about 84% (best-of-4) and 87% (order-of-4)."""
    truth = TRUTH - TRUTH.mean() + 1000.0
    covered = []
    for seed in range(120):
        rows = {
            r.model: r for r in leaderboard(_rounds(rt, 200 if rt is RoundType.BEST4 else 80, seed), "bt")
        }
        lower = np.array([rows[n].lower for n in NAMES])
        upper = np.array([rows[n].upper for n in NAMES])
        covered.append((lower <= truth) & (truth <= upper))
    assert 0.92 <= np.mean(covered) <= 0.98


def test_round_sandwich_sums_each_rounds_scores() -> None:
    """The meat against a per-round loop: sum over rounds of (sum of its battles' scores)^2, pair votes
    alone; the covariance follows as H^+ B H^+ on the centred ratings."""
    battles = _rounds(RoundType.ORDER4, 30, 1, pairs=25)
    fit = fit_bt(aggregate(battles))
    theta = fit.theta
    k = len(NAMES)
    score_a = np.where(battles.outcome == 0, 1.0, np.where(battles.outcome == 1, 0.0, 0.5))
    resid = score_a - 1.0 / (1.0 + np.exp(-(theta[battles.a] - theta[battles.b])))
    meat = np.zeros((k, k))
    hess = np.zeros((k, k))
    per_group: dict[int, np.ndarray] = {}
    for n, (x, y, r, g) in enumerate(zip(battles.a, battles.b, resid, battles.groups(), strict=True)):
        u = np.zeros(k)
        u[x], u[y] = r, -r
        key = int(g) if g >= 0 else -1 - n  # a pair vote is its own cluster
        per_group[key] = per_group.get(key, np.zeros(k)) + u
        p = 1.0 / (1.0 + np.exp(-(theta[x] - theta[y])))
        e = np.zeros(k)
        e[x], e[y] = 1.0, -1.0
        hess += p * (1.0 - p) * np.outer(e, e)
    for s in per_group.values():
        meat += np.outer(s, s)
    ones = np.full((k, k), 1.0 / k)
    hinv = np.linalg.inv(hess + 1e-6 * np.eye(k) + ones) - ones
    expected = ELO_PER_NAT**2 * hinv @ meat @ hinv
    np.testing.assert_allclose(fit.cov, expected, rtol=1e-6, atol=1e-6)
    # without the round ids the same battles read as independent: a different, narrower answer
    plain = fit_bt(aggregate(_without_rounds(battles))).cov
    assert np.trace(plain) < 0.8 * np.trace(fit.cov)


def test_diagonal_mode_keeps_the_round_terms() -> None:
    battles = _rounds(RoundType.BEST4, 150, 2)
    dense = fit_bt(aggregate(battles))
    diagonal = fit_bt(aggregate(battles), dense_limit=4)
    assert diagonal.cov.ndim == 1
    plain = fit_bt(aggregate(_without_rounds(battles)), dense_limit=4).cov
    assert np.all(diagonal.cov > plain)  # the rounds' cross terms widen every model's variance
    # the diagonal approximation drops cross-model terms of H only: same order as the dense variances
    ratio = diagonal.cov / np.diag(dense.cov)
    assert np.all((ratio > 0.3) & (ratio < 3.0))


def test_bootstrap_redraws_whole_rounds() -> None:
    """The bootstrap's spread matches the round sandwich on best-of-4 rounds; resampling the battles one
    by one (the same battles without round ids) gives intervals about a third narrower."""
    battles = _rounds(RoundType.BEST4, 300, 3)

    def width(b: Battles, ci: str) -> float:
        rows = leaderboard(b, "bt", ci=ci, rounds=300, seed=5)
        return float(np.mean([r.upper - r.lower for r in rows]))

    sandwich, boot = width(battles, "sandwich"), width(battles, "bootstrap")
    assert 0.85 < boot / sandwich < 1.15
    assert width(_without_rounds(battles), "bootstrap") < 0.85 * boot


def test_pair_votes_alone_are_unchanged_by_round_support() -> None:
    """Battles that carry a group column of pair votes only fit exactly as battles without one."""
    pairs = _rounds(RoundType.BEST4, 0, 4, pairs=200)
    plain = _without_rounds(pairs)
    for ci in ("sandwich", "bootstrap"):
        with_group = [(r.model, r.rating, r.lower, r.upper) for r in leaderboard(pairs, "bt", ci=ci)]
        without = [(r.model, r.rating, r.lower, r.upper) for r in leaderboard(plain, "bt", ci=ci)]
        assert with_group == without
