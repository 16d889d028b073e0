"""Bradley-Terry of a bulk run when scores separate the generators completely: one generator wins on
every prompt, where maximum likelihood has no finite rating. The fit's prior keeps the ratings finite
and a few hundred points apart, the order right and every interval of finite width around its rating."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagearena.ratings import leaderboard
from imagearena.ratings.bulk_stats import ImageScore, prompt_battles, prompt_means, scorer_board
from imagearena.types import RatingMethod


def scores(generators: int, prompts: int) -> list[ImageScore]:
    """Generator g0 scores highest on every prompt, g1 next, and so on: a complete separation."""
    return [
        ImageScore(f"g{g}", f"p{p}", 10.0 - g + 0.01 * p) for p in range(prompts) for g in range(generators)
    ]


@pytest.mark.parametrize(("generators", "prompts"), [(2, 1), (2, 12), (3, 1), (3, 12), (5, 40)])
def test_a_generator_that_wins_every_prompt_gets_a_finite_rating(generators: int, prompts: int) -> None:
    board = scorer_board("s", scores(generators, prompts))
    assert [r.model for r in board.bt] == [f"g{g}" for g in range(generators)]
    top = board.bt[0]
    assert top.wins == top.votes == (generators - 1) * prompts and top.losses == 0
    for row in board.bt:
        assert row.lower is not None and row.upper is not None
        assert all(map(math.isfinite, (row.rating, row.lower, row.upper)))
        assert row.lower < row.rating < row.upper
    ratings = [r.rating for r in board.bt]
    assert all(a > b for a, b in zip(ratings, ratings[1:], strict=False))  # strictly in order
    assert abs(np.mean(ratings) - 1000.0) < 1e-6
    # neighbours a few hundred points apart, not thousands (the near-unregularised fit put g0 at
    # 2044 to 5184 here, with intervals that narrowed as the rating grew)
    assert max(a - b for a, b in zip(ratings, ratings[1:], strict=False)) < 500.0
    assert top.rank == 1


def test_the_prior_barely_moves_ratings_of_many_prompts_that_do_not_all_go_one_way() -> None:
    rng = np.random.default_rng(0)
    mixed = [
        ImageScore(g, f"p{i}", float(rng.normal(mu, 0.5)))
        for i in range(200)
        for g, mu in (("good", 0.6), ("mid", 0.3), ("bad", 0.0))
    ]
    board = scorer_board("s", mixed)
    plain = {r.model: r.rating for r in leaderboard(prompt_battles(prompt_means(mixed)), RatingMethod.BT)}
    assert [r.model for r in board.bt] == ["good", "mid", "bad"]
    for row in board.bt:
        assert row.rating == pytest.approx(plain[row.model], abs=0.05 * abs(plain[row.model] - 1000.0) + 1.0)
