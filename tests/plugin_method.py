"""A rating method as a package would add one: registered in ``ratings.methods.rating_methods`` under
:data:`NAME`, it rates a model by its number of wins. ``registered()`` adds it for the length of a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from imagearena.ratings import Battles
from imagearena.ratings.battles import MODEL_A, MODEL_B
from imagearena.ratings.methods import FitOptions, rating_methods
from imagearena.ratings.rows import rating_rows, upper_bound_ranks
from imagearena.types import RatingRow

NAME = "wincount"


class WinCount:
    """Rating = wins; no bounds."""

    def fit(self, battles: Battles, options: FitOptions) -> list[RatingRow]:
        n = battles.n_models
        wins = np.bincount(battles.a[battles.outcome == MODEL_A], minlength=n) + np.bincount(
            battles.b[battles.outcome == MODEL_B], minlength=n
        )
        rating = wins.astype(np.float64)
        return rating_rows(battles, rating, None, None, key=rating, ranks=upper_bound_ranks(rating, rating))


@contextmanager
def registered() -> Iterator[str]:
    rating_methods.register(NAME, WinCount)
    try:
        yield NAME
    finally:
        rating_methods._factories.pop(NAME, None)
