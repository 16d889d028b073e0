"""The rating-over-time chart: a refitted (Bradley-Terry) curve starts where its estimate exists, so a
replay of the first few votes cannot set the scale of the chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from imagearena import ratings
from imagearena.web.charts import (
    REFIT_MAX_CI_WIDTH,
    REFIT_MIN_VOTES,
    established_points,
    focus_range,
    rating_chart,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def point(model, rating, votes, lower=None, upper=None, minute=0):
    return SimpleNamespace(
        model=model, rating=rating, lower=lower, upper=upper, votes=votes, at=T0 + timedelta(minutes=minute)
    )


def tick_values(svg: str) -> list[float]:
    return [float(v) for v in re.findall(r'text-anchor="end" class="tick">([-0-9.e+]+)<', svg)]


def replayed_bt_history(n_battles: int = 240, seed: int = 3) -> list[SimpleNamespace]:
    """Snapshots the way the server backfills them: Bradley-Terry refitted on growing prefixes of the votes."""
    rng = np.random.default_rng(seed)
    models = ["m0", "m1", "m2", "m3"]
    a = rng.integers(0, 4, n_battles)
    b = (a + rng.integers(1, 4, n_battles)) % 4
    strength = np.array([0.0, 0.4, 0.8, 1.6])
    outcome = np.where(rng.random(n_battles) < 1 / (1 + np.exp(strength[b] - strength[a])), 0, 1)
    history = []
    for minute, k in enumerate([2, 4, 6, 10, 20, 40, 80, 120, 160, 200, 240]):
        prefix = ratings.Battles(models, a[:k], b[:k], outcome[:k], np.arange(k, dtype=float))
        for row in ratings.leaderboard(prefix, method="bt"):
            if row.votes:
                history.append(point(row.model, row.rating, row.votes, row.lower, row.upper, minute))
    return history


def test_a_curve_starts_at_the_first_established_estimate_and_keeps_what_follows():
    narrow = (950.0, 1050.0)
    points = [
        point("a", 3900.0, 2, 3700.0, 4100.0, 0),  # too few votes, however narrow the interval
        point("a", 1500.0, REFIT_MIN_VOTES, 1000.0, 1000.0 + REFIT_MAX_CI_WIDTH + 1, 1),  # interval too wide
        point("a", 1010.0, REFIT_MIN_VOTES, *narrow, 2),  # established
        point("a", 1020.0, REFIT_MIN_VOTES + 5, 400.0, 1600.0, 3),  # later points stay: no gaps
        point("b", 990.0, 40, None, None, 2),  # no finite interval: no estimate yet
        point("b", 980.0, 45, *narrow, 3),
    ]
    kept = established_points(points)
    assert [(p.model, p.at.minute) for p in kept] == [("a", 2), ("a", 3), ("b", 3)]
    assert established_points(points[:2]) == []


def test_focus_range_follows_the_latest_estimates_and_leaves_old_outliers_out():
    points = [
        point("a", 4000.0, 12, 3900.0, 4100.0, 0),
        point("b", -2000.0, 12, -2100.0, -1900.0, 0),
        point("a", 1100.0, 90, 1050.0, 1150.0, 5),
        point("b", 900.0, 90, 850.0, 950.0, 5),
    ]
    lo, hi = focus_range(points)
    assert (lo, hi) == (850.0 - 300.0, 1150.0 + 300.0)  # the latest intervals plus their own height
    assert focus_range(points[2:]) == (900.0, 1100.0)  # never wider than the points themselves
    flat = [point("a", 1000.0, 20, None, None, 0), point("b", 1000.0, 20, None, None, 0)]
    assert focus_range(flat) == (1000.0, 1000.0)


def test_replayed_bradley_terry_history_no_longer_sets_the_scale():
    history = replayed_bt_history()
    early = max(abs(p.rating - 1000.0) for p in history)
    assert early > 1500, "the replay this test guards against: a few votes fit far from the rest"
    final = [p for p in history if p.at == history[-1].at]
    final_lo = min(p.lower for p in final)
    final_hi = max(p.upper for p in final)

    svg = str(rating_chart(history, title="Bradley-Terry rating over time", refit=True))
    ticks = tick_values(svg)
    assert ticks and "<polyline" in svg
    assert min(ticks) >= final_lo - 2 * (final_hi - final_lo)
    assert max(ticks) <= final_hi + 2 * (final_hi - final_lo)
    assert max(ticks) - min(ticks) < early  # the scale is that of the estimates, not of the first votes
    for model in ("m0", "m1", "m2", "m3"):
        assert f"<title>{model}</title></polyline>" in svg


def test_online_ratings_keep_their_whole_history():
    points = [
        point("a", 1016.0, 1, minute=0),
        point("a", 1100.0, 9, minute=1),
        point("b", 900.0, 9, minute=1),
    ]
    svg = str(rating_chart(points, title="Elo rating over time"))
    assert svg.count("<polyline") == 2  # elo and trueskill start at their priors: nothing to drop


def test_a_refit_without_an_established_estimate_says_when_the_curve_starts():
    points = [point("a", 3000.0, 3, 2900.0, 3100.0), point("b", -1000.0, 3, -1100.0, -900.0)]
    html = str(rating_chart(points, title="Bradley-Terry rating over time", refit=True))
    assert "<svg" not in html
    assert f"{REFIT_MIN_VOTES} votes" in html


@pytest.mark.parametrize("refit", [False, True])
def test_no_history_yet(refit):
    assert "No rating history yet" in str(rating_chart([], title="t", refit=refit))
