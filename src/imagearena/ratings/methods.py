"""The rating methods behind :func:`imagearena.ratings.leaderboard`, one class each, found by name in
one registry (built-ins here, others through the ``imagearena.rating_methods`` entry point group).

Each method fits columnar battles into leaderboard rows and refuses the options that do not apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import Battles
from imagearena.ratings.bradley_terry import (
    RIDGE,
    Z95,
    aggregate,
    anchor_ratings,
    anchored_std,
    bootstrap_bt,
    fit_bt,
)
from imagearena.ratings.elo import online_elo
from imagearena.ratings.rows import rating_rows, upper_bound_ranks
from imagearena.ratings.trueskill import replay_trueskill
from imagearena.registry import Registry
from imagearena.types import LOGIT_PER_ELO, RatingFit, RatingMethod, RatingRow

CI = Literal["sandwich", "bootstrap"]
CIS: tuple[str, ...] = ("sandwich", "bootstrap")


@dataclass(frozen=True, slots=True)
class FitOptions:
    """A leaderboard's options; each method reads those that apply to it (see ``leaderboard``)."""

    k: float = 32.0
    ci: CI = "sandwich"
    rounds: int = 100
    anchor: tuple[str, float] | None = None
    seed: int = 0
    weights: np.ndarray | None = None
    #: Standard deviation (Elo points) of a Gaussian prior on the Bradley-Terry strengths; None keeps
    #: the near-zero ridge of :func:`fit_bt` (maximum likelihood for all practical purposes).
    prior_sd: float | None = None

    def ridge(self) -> float:
        """The Bradley-Terry ridge on the natural scale: the prior's precision, or fit_bt's default."""
        if self.prior_sd is None:
            return RIDGE
        return float(1.0 / (self.prior_sd * LOGIT_PER_ELO) ** 2)


rating_methods: Registry[RatingFit[Battles, FitOptions]] = Registry(
    "rating method", "imagearena.rating_methods"
)


def _refuse_bt_only(options: FitOptions) -> None:
    if options.weights is not None:
        raise InputError(f"weights apply to the Bradley-Terry method only (method='{RatingMethod.BT}')")
    if options.prior_sd is not None:
        raise InputError(
            f"a prior (prior_sd) applies to the Bradley-Terry method only (method='{RatingMethod.BT}')"
        )


def _ranked_by(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, ranks) for a method without intervals: float noise must not split equal values."""
    key = np.round(key, 9)
    return key, upper_bound_ranks(key, key)


@rating_methods.register(RatingMethod.ELO)
class Elo:
    """Online Elo (``k``); no bounds; ranked by rating."""

    def fit(self, battles: Battles, options: FitOptions) -> list[RatingRow]:
        _refuse_bt_only(options)
        rating = online_elo(battles, k=options.k)
        if options.anchor is not None:
            rating = rating - rating[battles.models.index(options.anchor[0])] + options.anchor[1]
        key, ranks = _ranked_by(rating)
        return rating_rows(battles, rating, None, None, key=key, ranks=ranks)


@rating_methods.register(RatingMethod.TRUESKILL)
class TrueSkill:
    """``rating`` is mu, bounds are mu -/+ 3 sigma; sorted and ranked by mu - 3 sigma."""

    def fit(self, battles: Battles, options: FitOptions) -> list[RatingRow]:
        if options.anchor is not None:
            raise InputError("an anchor applies to elo and bt ratings, not to trueskill")
        _refuse_bt_only(options)
        mu, sigma = replay_trueskill(battles)
        lower, upper = mu - 3.0 * sigma, mu + 3.0 * sigma
        key, ranks = _ranked_by(lower)
        return rating_rows(battles, mu, lower, upper, key=key, ranks=ranks)


@rating_methods.register(RatingMethod.BT)
class BradleyTerry:
    """Bradley-Terry with 95% bounds (sandwich or seeded bootstrap), ranked with upper-bound semantics;
    ``prior_sd`` gives the strengths a Gaussian prior (a ridge) in place of the near-zero default."""

    def fit(self, battles: Battles, options: FitOptions) -> list[RatingRow]:
        rating, lower, upper = _bt_intervals(battles, options)
        ranks = upper_bound_ranks(np.round(lower, 9), np.round(upper, 9))
        return rating_rows(battles, rating, lower, upper, key=np.round(rating, 9), ranks=ranks)


def _bt_intervals(battles: Battles, options: FitOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rating, lower, upper) per model, shifted to the anchor if there is one."""
    anchor = options.anchor
    counts = aggregate(battles, options.weights)
    reg = options.ridge()
    fit = fit_bt(counts, reg=reg, covariance=(options.ci == "sandwich"))
    rating = fit.ratings
    if anchor is not None:
        rating = anchor_ratings(battles.models, rating, anchor)
    if options.ci == "sandwich":
        std = fit.std if anchor is None else anchored_std(fit.cov, battles.models.index(anchor[0]))
        return rating, rating - Z95 * std, rating + Z95 * std
    boot = bootstrap_bt(counts, rounds=options.rounds, seed=options.seed, init=fit.theta, reg=reg)
    if anchor is not None:
        boot = anchor_ratings(battles.models, boot, anchor)
    lower, upper = np.percentile(boot, [2.5, 97.5], axis=0)
    return rating, lower, upper
