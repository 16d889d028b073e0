"""The leaderboard's ``prior_sd`` option: a Gaussian prior on the Bradley-Terry strengths, in both the
sandwich and the bootstrap interval, refused by the methods it does not apply to."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from imagearena.errors import InputError
from imagearena.ratings import Battles, leaderboard
from imagearena.types import ELO_PER_LOGIT


def one_sided(wins: int) -> Battles:
    """``a`` beats ``b`` in every one of ``wins`` battles: no finite maximum-likelihood rating."""
    return Battles.from_records(["a"] * wins, ["b"] * wins, ["model_a"] * wins)


def map_gap(wins: int, prior_sd: float) -> float:
    """The Elo gap a - b at the posterior mode, by hand: strengths +-d/2 with the Gaussian prior of sd
    ``prior_sd`` Elo on each, so wins * (1 - sigmoid(d)) = d / (2 sd^2) on the natural scale."""
    sd = prior_sd / ELO_PER_LOGIT
    d = brentq(lambda d: wins / (1.0 + math.exp(d)) - d / (2.0 * sd * sd), 0.0, 100.0, xtol=1e-14)
    return float(d * ELO_PER_LOGIT)


@pytest.mark.parametrize(("wins", "prior_sd"), [(1, 200.0), (10, 200.0), (10, 50.0)])
def test_the_prior_gives_the_posterior_mode(wins: int, prior_sd: float) -> None:
    rows = {r.model: r for r in leaderboard(one_sided(wins), "bt", prior_sd=prior_sd)}
    gap = rows["a"].rating - rows["b"].rating
    assert gap == pytest.approx(map_gap(wins, prior_sd), rel=1e-6)
    assert rows["a"].rating + rows["b"].rating == pytest.approx(2000.0)


def test_without_a_prior_the_leaderboard_is_unchanged_and_far_out() -> None:
    battles = one_sided(10)
    plain = leaderboard(battles, "bt")
    assert leaderboard(battles, "bt", prior_sd=None) == plain
    assert plain[0].rating - plain[1].rating > 2000.0  # the near-zero ridge: thousands of points
    assert plain[0].rating - plain[1].rating > 5 * map_gap(10, 200.0)


def test_the_bootstrap_interval_uses_the_prior_too() -> None:
    rng = np.random.default_rng(0)
    n = 40
    a = ["x"] * n + ["y"] * n
    b = ["y"] * n + ["z"] * n
    winner = ["model_a" if w else "tie" for w in rng.random(2 * n) < 0.9]
    battles = Battles.from_records(a, b, winner)  # x and y never lose
    plain = {r.model: r for r in leaderboard(battles, "bt", ci="bootstrap", rounds=50, seed=3)}
    prior = {
        r.model: r for r in leaderboard(battles, "bt", ci="bootstrap", rounds=50, seed=3, prior_sd=100.0)
    }
    for model in "xyz":
        p, q = plain[model], prior[model]
        assert q.lower is not None and q.upper is not None and p.lower is not None and p.upper is not None
        assert q.lower <= q.rating <= q.upper
        assert q.upper - q.lower < p.upper - p.lower  # the prior narrows every bootstrap interval
    assert prior["x"].rating - prior["z"].rating < plain["x"].rating - plain["z"].rating
    assert sorted(prior, key=lambda m: -prior[m].rating) == list("xyz")


@pytest.mark.parametrize("method", ["elo", "trueskill"])
def test_methods_without_strengths_refuse_a_prior(method: str) -> None:
    with pytest.raises(InputError, match="prior_sd.*Bradley-Terry"):
        leaderboard(one_sided(3), method, prior_sd=200.0)


@pytest.mark.parametrize("bad", [0.0, -5.0, math.inf, math.nan])
def test_a_prior_needs_a_positive_finite_spread(bad: float) -> None:
    with pytest.raises(InputError, match="prior standard deviation"):
        leaderboard(one_sided(3), "bt", prior_sd=bad)
