"""Leaderboard rows from per-model ratings: the shape every rating method returns."""

from __future__ import annotations

import numpy as np

from imagearena.ratings.battles import Battles
from imagearena.types import RatingRow


def upper_bound_ranks(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Rank = 1 + the number of models whose lower bound is above this model's upper bound.

    Models whose intervals overlap share a rank, so a rank is only claimed when the data supports it.
    """
    lo = np.sort(np.nan_to_num(lower, nan=-np.inf))  # an unknown bound claims nothing
    up = np.nan_to_num(upper, nan=np.inf)
    ranks: np.ndarray = 1 + len(lo) - np.searchsorted(lo, up, side="right")
    return ranks


def rating_rows(
    battles: Battles,
    rating: np.ndarray,
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    *,
    key: np.ndarray,
    ranks: np.ndarray,
) -> list[RatingRow]:
    """One row per model, sorted by ``key`` (best first, then by name); non-finite bounds become None."""
    votes, wins, losses, ties = battles.counts()
    order = sorted(range(battles.n_models), key=lambda x: (-key[x], battles.models[x]))
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
