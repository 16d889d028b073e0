"""The bulk leaderboard's math: a generator's mean over prompts of per-prompt means with a Student-t
interval over prompts, per-prompt battles (ties on equal means), categories, non-finite values left out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from imagearena.ratings.bulk_stats import (
    NO_CATEGORY,
    ImageScore,
    mean_ci,
    prompt_battles,
    prompt_means,
    scorer_board,
)


def test_the_interval_is_students_t_over_the_values():
    values = [0.1, 0.4, 0.35, 0.8, 0.55]
    got = mean_ci(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert (got.mean, got.lower, got.upper, got.prompts) == pytest.approx((np.mean(values), lo, hi, 5))
    single = mean_ci([0.3], images=4)
    assert (single.mean, single.lower, single.upper, single.prompts, single.images) == (0.3, None, None, 1, 4)


def test_a_prompts_images_are_averaged_first_and_non_finite_values_left_out():
    scores = [
        ImageScore("a", "p1", 1.0), ImageScore("a", "p1", 3.0), ImageScore("a", "p1", math.nan),
        ImageScore("a", "p2", 10.0), ImageScore("b", "p1", 2.0), ImageScore("b", "p2", 10.0),
    ]  # fmt: skip
    per_prompt = prompt_means(scores)
    assert per_prompt == {"a": {"p1": (2.0, 2), "p2": (10.0, 1)}, "b": {"p1": (2.0, 1), "p2": (10.0, 1)}}
    board = scorer_board("s", scores, {"p1": "animals"})
    assert board.means["a"].mean == 6.0 and board.means["a"].images == 3  # not (1 + 3 + 10) / 3
    battles = prompt_battles(per_prompt)
    assert len(battles) == 2 and sorted(battles.outcome.tolist()) == [2, 2]  # equal means tie
    assert set(board.categories) == {"animals", NO_CATEGORY}
    assert board.categories[NO_CATEGORY]["b"].mean == 10.0


def test_bradley_terry_counts_one_battle_per_prompt_and_pair():
    rng = np.random.default_rng(0)
    scores = [
        ImageScore(g, f"p{i}", float(rng.normal(mu, 0.5)))
        for i in range(30)
        for g, mu in (("good", 1.0), ("mid", 0.5), ("bad", 0.0))
    ]
    board = scorer_board("s", scores)
    rows = {r.model: r for r in board.bt}
    assert [r.model for r in board.bt] == ["good", "mid", "bad"]
    assert all(r.votes == 60 for r in rows.values())  # 30 prompts x 2 opponents
    assert [g for g, _ in board.ranked] == ["good", "mid", "bad"]
