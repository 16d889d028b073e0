"""Leaderboard rows and pairwise matrices: what the web app, the CLI and reports show."""

from __future__ import annotations

import numpy as np

from imagearena.errors import InputError, UnknownNameError
from imagearena.ratings.battles import MODEL_A, MODEL_B, Battles
from imagearena.ratings.methods import CI, CIS, FitOptions, rating_methods
from imagearena.ratings.rows import upper_bound_ranks
from imagearena.types import RatingMethod, RatingRow

__all__ = [
    "CI",
    "CIS",
    "battle_count_matrix",
    "leaderboard",
    "upper_bound_ranks",
    "win_rate_matrix",
]


def leaderboard(
    battles: Battles,
    method: RatingMethod | str = RatingMethod.ELO,
    *,
    k: float = 32.0,
    ci: CI = "sandwich",
    rounds: int = 100,
    anchor: tuple[str, float] | None = None,
    seed: int = 0,
    weights: np.ndarray | None = None,
    prior_sd: float | None = None,
) -> list[RatingRow]:
    """One row per model, sorted best first, by the method registered under ``method``.

    - ``elo``: online Elo (``k``); ``lower``/``upper`` are None; ranked by rating.
    - ``trueskill``: ``rating`` is mu, bounds are mu -/+ 3 sigma; sorted and ranked by mu - 3 sigma.
    - ``bt``: Bradley-Terry, mean 1000 or shifted so ``anchor`` = (model, rating); 95% bounds by
      ``ci`` ("sandwich" or a ``rounds``-round seeded "bootstrap"); ``weights`` are optional
      per-battle inverse propensities; ``prior_sd`` (Elo points) gives the strengths a Gaussian prior
      in place of the near-zero ridge, which keeps a model that wins every battle a few prior standard
      deviations out instead of thousands of points; ranked with upper-bound semantics
      (:func:`upper_bound_ranks`).

    ``weights`` and ``prior_sd`` apply to ``bt`` only; the other methods refuse them.
    """
    if method not in rating_methods:
        raise InputError(f"unknown rating method {method!r}; use one of {', '.join(rating_methods.names())}")
    if ci not in CIS:
        raise InputError(f"unknown confidence interval method {ci!r}; use one of {', '.join(CIS)}")
    if not (k > 0 and np.isfinite(k)):
        raise InputError(f"the Elo K factor must be a positive number, got {k}")
    if anchor is not None and anchor[0] not in battles.models:
        raise UnknownNameError(f"anchor model {anchor[0]!r} is not among the rated models")
    if prior_sd is not None and not (prior_sd > 0 and np.isfinite(prior_sd)):
        raise InputError(
            f"the prior standard deviation must be a positive number of Elo points, got {prior_sd}"
        )
    options = FitOptions(
        k=k, ci=ci, rounds=rounds, anchor=anchor, seed=seed, weights=weights, prior_sd=prior_sd
    )
    return rating_methods.create(method).fit(battles, options)


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
