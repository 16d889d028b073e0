"""A prior guess at the order (a folder's pre-rank scores): Bradley-Terry with a prior mean, and the
active sampler serving first the names that the guess puts close together."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from imagearena.errors import InputError, UnknownNameError
from imagearena.ratings.bradley_terry import PairCounts, fit_bt
from imagearena.ratings.sampling import ActiveSampler, UniformSampler


def _two_models(wins: float, losses: float) -> PairCounts:
    return PairCounts.from_arrays(
        2, np.array([0]), np.array([1]), np.array([wins]), np.array([losses]), np.zeros(1)
    )


def test_a_prior_mean_moves_the_fit_to_the_posterior_mode():
    reg, mu = 0.5, np.array([1.0, -1.0])
    fit = fit_bt(_two_models(3, 1), reg=reg, prior_mean=mu, covariance=False)
    # by hand: d = theta0 - theta1 solves 3 - 4 sigmoid(d) = reg (d - 2) / 2 (each side pulled to its mean)
    d = brentq(lambda d: 3 - 4 / (1 + np.exp(-d)) - reg * (d - 2.0) / 2, -10, 10)
    assert fit.theta[0] - fit.theta[1] == pytest.approx(d, abs=1e-8)
    plain = fit_bt(_two_models(3, 1), reg=reg, covariance=False)
    d0 = brentq(lambda d: 3 - 4 / (1 + np.exp(-d)) - reg * d / 2, -10, 10)
    assert plain.theta[0] - plain.theta[1] == pytest.approx(d0, abs=1e-8)
    assert d > d0  # the guess agreed with the votes


def test_models_without_battles_keep_their_prior_mean():
    counts = PairCounts.from_arrays(3, np.array([0]), np.array([1]), np.ones(1), np.ones(1), np.zeros(1))
    mu = np.array([0.3, -0.1, 2.0])
    fit = fit_bt(counts, reg=1.0, prior_mean=mu, covariance=False)
    assert fit.theta[2] == 2.0
    # a 1-1 record: only the prior separates them; d solves 1 - 2 sigmoid(d) = reg (d / 2 - 0.2)
    d = brentq(lambda d: 1 - 2 / (1 + np.exp(-d)) - (d / 2 - 0.2), -10, 10)
    assert fit.theta[0] - fit.theta[1] == pytest.approx(d, abs=1e-8)
    assert fit.theta[:2].mean() == pytest.approx(mu[:2].mean())  # the prior's level is kept
    assert (
        fit_bt(
            PairCounts.from_arrays(3, *[np.zeros(0, dtype=np.int64)] * 2, *[np.zeros(0)] * 3), prior_mean=mu
        ).theta.tolist()
        == mu.tolist()
    )
    with pytest.raises(InputError, match="prior_mean"):
        fit_bt(counts, prior_mean=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(InputError, match="prior_mean"):
        fit_bt(counts, prior_mean=np.zeros(2))


@pytest.mark.parametrize("dense_max", [256, 16])  # full covariance, and the diagonal mode of large pools
def test_seeded_active_sampler_serves_neighbours_in_the_score_order_first(dense_max):
    rng = np.random.default_rng(3)
    m = 40
    names = [f"n{k}" for k in range(m)]
    score = rng.normal(size=m)
    place = dict(zip(names, np.argsort(np.argsort(score)).tolist(), strict=True))

    def gaps(sampler, n):
        return [abs(place[a] - place[b]) for a, b in (sampler.next_pair() for _ in range(n))]

    seeded = ActiveSampler(names, seed=0, explore=0.0, group_explore=0.0, dense_max=dense_max)
    seeded.seed_scores({n: float(s) for n, s in zip(names, score, strict=True)})
    assert gaps(seeded, 10) == [1] * 10
    group = sorted(place[n] for n in seeded.next_group(4))
    assert group[-1] - group[0] <= 6  # a group of images the score finds close
    plain = ActiveSampler(names, seed=0, explore=0.0, dense_max=dense_max)
    assert sum(g == 1 for g in gaps(plain, 15)) <= 5


def test_seed_scores_only_guide_the_sampler_and_votes_overrule_them():
    names = ["a", "b", "c", "d"]
    s = ActiveSampler(names, seed=0, explore=0.0)
    s.seed_scores({"a": 4.0, "b": 3.0, "c": 2.0, "d": float("nan")})  # d: no usable score
    s.refit()
    r = s.ratings
    assert r["a"] > r["b"] > r["c"] and r["d"] == pytest.approx(0.0, abs=1e-9)
    for _ in range(30):  # people keep preferring c to a
        s.observe("c", "a", "model_a")
    s.refit()
    assert s.ratings["c"] > s.ratings["a"]
    assert s.votes["c"] == 30 and s.votes["b"] == 0  # the guess is not counted as votes


def test_seed_scores_need_known_names_and_the_uniform_sampler_ignores_them():
    for sampler in (ActiveSampler(["a", "b"]), UniformSampler(["a", "b"])):
        with pytest.raises(UnknownNameError):
            sampler.seed_scores({"zz": 1.0})
    uniform = UniformSampler(["a", "b", "c"], seed=0)
    uniform.seed_scores({"a": 1.0})
    assert len(set(uniform.next_group(3))) == 3
