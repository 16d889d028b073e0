"""Leaderboard rows and pairwise matrices: what the web app, the CLI and reports show."""

from __future__ import annotations

from typing import Literal

import numpy as np

from imagearena.errors import InputError, UnknownNameError
from imagearena.ratings.battles import MODEL_A, MODEL_B, Battles
from imagearena.types import RatingRow

Method = Literal["elo", "trueskill", "bt"]
CI = Literal["sandwich", "bootstrap"]
METHODS: tuple[str, ...] = ("elo", "trueskill", "bt")
CIS: tuple[str, ...] = ("sandwich", "bootstrap")


def upper_bound_ranks(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Rank = 1 + the number of models whose lower bound is above this model's upper bound.

    Models whose intervals overlap share a rank, so a rank is only claimed when the data supports it.
    """
    lo = np.sort(np.nan_to_num(lower, nan=-np.inf))  # an unknown bound claims nothing
    up = np.nan_to_num(upper, nan=np.inf)
    return 1 + len(lo) - np.searchsorted(lo, up, side="right")


def leaderboard(
    battles: Battles,
    method: Method = "elo",
    *,
    k: float = 32.0,
    ci: CI = "sandwich",
    rounds: int = 100,
    anchor: tuple[str, float] | None = None,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> list[RatingRow]:
    """One row per model, sorted best first.

    - ``elo``: online Elo (``k``); ``lower``/``upper`` are None; ranked by rating.
    - ``trueskill``: ``rating`` is mu, bounds are mu -/+ 3 sigma; sorted and ranked by mu - 3 sigma.
    - ``bt``: Bradley-Terry, mean 1000 or shifted so ``anchor`` = (model, rating); 95% bounds by
      ``ci`` ("sandwich" or a ``rounds``-round seeded "bootstrap"); ``weights`` are optional
      per-battle inverse propensities; ranked with upper-bound semantics (:func:`upper_bound_ranks`).
    """
    if method not in METHODS:
        raise InputError(f"unknown rating method {method!r}; use one of {', '.join(METHODS)}")
    if ci not in CIS:
        raise InputError(f"unknown confidence interval method {ci!r}; use one of {', '.join(CIS)}")
    if not (k > 0 and np.isfinite(k)):
        raise InputError(f"the Elo K factor must be a positive number, got {k}")
    if anchor is not None and anchor[0] not in battles.models:
        raise UnknownNameError(f"anchor model {anchor[0]!r} is not among the rated models")
    if anchor is not None and method == "trueskill":
        raise InputError("an anchor applies to elo and bt ratings, not to trueskill")
    if weights is not None and method != "bt":
        raise InputError("weights apply to the Bradley-Terry method only (method='bt')")
    m = battles.n_models
    lower: np.ndarray | None
    upper: np.ndarray | None
    if method == "elo":
        from imagearena.ratings.elo import online_elo

        rating = online_elo(battles, k=k)
        if anchor is not None:
            rating = rating - rating[battles.models.index(anchor[0])] + anchor[1]
        lower = upper = None
        key = np.round(rating, 9)  # float noise must not split equal ratings
        ranks = upper_bound_ranks(key, key)
    elif method == "trueskill":
        from imagearena.ratings.trueskill import replay_trueskill

        mu, sigma = replay_trueskill(battles)
        rating, lower, upper = mu, mu - 3.0 * sigma, mu + 3.0 * sigma
        key = np.round(lower, 9)
        ranks = upper_bound_ranks(key, key)
    else:
        rating, lower, upper = _bt(battles, ci=ci, rounds=rounds, anchor=anchor, seed=seed, weights=weights)
        key = np.round(rating, 9)
        ranks = upper_bound_ranks(np.round(lower, 9), np.round(upper, 9))
    votes, wins, losses, ties = battles.counts()
    order = sorted(range(m), key=lambda x: (-key[x], battles.models[x]))
    return [
        RatingRow(
            model=battles.models[x],
            rating=float(rating[x]),
            lower=None if lower is None or not np.isfinite(lower[x]) else float(lower[x]),
            upper=None if upper is None or not np.isfinite(upper[x]) else float(upper[x]),
            votes=int(votes[x]),
            wins=int(wins[x]),
            losses=int(losses[x]),
            ties=int(ties[x]),
            rank=int(ranks[x]),
        )
        for x in order
    ]


def _bt(
    battles: Battles,
    *,
    ci: str,
    rounds: int,
    anchor: tuple[str, float] | None,
    seed: int,
    weights: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from imagearena.ratings.bradley_terry import aggregate, anchor_ratings, anchored_std, bootstrap_bt, fit_bt

    counts = aggregate(battles, weights)
    fit = fit_bt(counts, covariance=(ci == "sandwich"))
    rating = fit.ratings
    if anchor is not None:
        rating = anchor_ratings(battles.models, rating, anchor)
    if ci == "sandwich":
        std = fit.std if anchor is None else anchored_std(fit.cov, battles.models.index(anchor[0]))
        return rating, rating - 1.959963984540054 * std, rating + 1.959963984540054 * std
    boot = bootstrap_bt(counts, rounds=rounds, seed=seed, init=fit.theta)
    if anchor is not None:
        boot = anchor_ratings(battles.models, boot, anchor)
    lower, upper = np.percentile(boot, [2.5, 97.5], axis=0)
    return rating, lower, upper


def battle_count_matrix(battles: Battles) -> tuple[list[str], np.ndarray]:
    """(models, n) with ``n[i, j]`` the number of battles between models i and j, in either position."""
    m = battles.n_models
    a = battles.a.astype(np.int64)
    b = battles.b.astype(np.int64)
    n = np.bincount(a * m + b, minlength=m * m).reshape(m, m)
    return list(battles.models), n + n.T


def win_rate_matrix(battles: Battles) -> tuple[list[str], np.ndarray]:
    """(models, w) with ``w[i, j]`` the share of i's battles against j that i won, ties counting half.

    NaN where the two never met (and on the diagonal).
    """
    m = battles.n_models
    a = battles.a.astype(np.int64)
    b = battles.b.astype(np.int64)
    o = battles.outcome
    score_a = np.where(o == MODEL_A, 1.0, np.where(o == MODEL_B, 0.0, 0.5))
    won = np.bincount(a * m + b, score_a, minlength=m * m).reshape(m, m)
    won += np.bincount(b * m + a, 1.0 - score_a, minlength=m * m).reshape(m, m)
    _, n = battle_count_matrix(battles)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, won / n, np.nan)
    return list(battles.models), rate
