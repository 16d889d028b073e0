"""Ratings: Elo, TrueSkill and Bradley-Terry over columnar battles. Pure numpy/scipy, no I/O.

Everything that shows a leaderboard (web arena, ``imagearena rate``, folder ranker, judge boards)
calls :func:`leaderboard`; the pair sampler calls :func:`imagearena.ratings.bradley_terry.fit_bt`.
"""

from imagearena.ratings.battles import OUTCOME_CODES, Battles
from imagearena.ratings.leaderboard import (
    battle_count_matrix,
    leaderboard,
    upper_bound_ranks,
    win_rate_matrix,
)

__all__ = [
    "OUTCOME_CODES",
    "Battles",
    "battle_count_matrix",
    "leaderboard",
    "upper_bound_ranks",
    "win_rate_matrix",
]
