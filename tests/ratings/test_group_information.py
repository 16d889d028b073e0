"""The active sampler's four-image rule: the information of a round under the Plackett-Luce crowd, the
exact posterior update that books a served round, and groups drawn where the order is uncertain."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from imagearena.arena.pool import StudyPool
from imagearena.ratings.sampling import ActiveSampler, UniformSampler, round_information
from imagearena.types import RoundType


def _orders_and_scores(theta: np.ndarray, round_type: RoundType):
    """Every outcome of a round on four names with its probability and score (gradient of its
    log-likelihood), enumerated: picks for best4, the 24 orders for order4."""
    e = np.exp(theta)
    if round_type is RoundType.BEST4:
        for pick in range(4):
            p = e / e.sum()
            score = np.eye(4)[pick] - p
            yield p[pick], score
        return
    for order in itertools.permutations(range(4)):
        prob, score, left = 1.0, np.zeros(4), list(range(4))
        for item in order[:-1]:
            q = np.zeros(4)
            q[left] = e[left] / e[left].sum()
            prob *= q[item]
            score += np.eye(4)[item] - q
            left.remove(item)
        yield prob, score


@pytest.mark.parametrize("round_type", [RoundType.BEST4, RoundType.ORDER4])
def test_round_information_is_the_expected_outer_product_of_the_score(round_type):
    rng = np.random.default_rng(7)
    strengths = rng.normal(scale=1.5, size=(5, 4))
    info = round_information(strengths, round_type)
    for theta, got in zip(strengths, info, strict=True):
        expected = sum(p * np.outer(s, s) for p, s in _orders_and_scores(theta, round_type))
        np.testing.assert_allclose(got, expected, atol=1e-12)
    # an order tells more than a pick; equal strengths: traces 3/4 and 3/4 + 2/3 + 1/2
    flat = np.zeros((1, 4))
    assert np.trace(round_information(flat, RoundType.BEST4)[0]) == pytest.approx(0.75)
    assert np.trace(round_information(flat, RoundType.ORDER4)[0]) == pytest.approx(0.75 + 2 / 3 + 0.5)
    # without a round type: its six pairs as independent Bradley-Terry votes
    assert np.trace(round_information(flat, None)[0]) == pytest.approx(6 * 2 * 0.25)


def _voted(names, seed=0, votes=60):
    rng = np.random.default_rng(seed)
    sampler = ActiveSampler(names, seed=seed, group_explore=0.0)
    for _ in range(votes):
        a, b = rng.choice(len(names), 2, replace=False)
        sampler.observe(names[a], names[b], "model_a" if a < b else "model_b")
    sampler.refit()
    return sampler


@pytest.mark.parametrize("round_type", ["best4", "order4"])
def test_a_served_round_is_booked_as_the_exact_posterior_update(round_type):
    names = [f"m{k}" for k in range(10)]
    sampler = _voted(names)
    cov, theta = sampler._cov.copy(), sampler._theta.copy()
    group = sorted(names.index(n) for n in sampler.next_group(4, round_type))
    info = round_information(theta[group][None, :], RoundType(round_type))[0]
    embed = np.zeros((10, 4))
    embed[group, range(4)] = 1.0
    posterior = np.linalg.inv(np.linalg.inv(cov) + embed @ info @ embed.T)
    np.testing.assert_allclose(sampler._cov, posterior, atol=1e-12)
    np.testing.assert_allclose(sampler._mm, posterior @ sampler._lap @ posterior, atol=1e-12)
    d = np.diag(posterior)
    np.testing.assert_allclose(
        sampler._var_d, np.maximum(d[:, None] + d[None, :] - 2 * posterior, 0), atol=1e-12
    )


def test_the_served_group_is_the_best_of_those_scored():
    names = [f"m{k}" for k in range(12)]
    sampler = _voted(names, seed=3)
    groups = sampler._candidate_groups(4)
    value, _ = sampler._group_gain(groups, RoundType.BEST4)
    every = np.array(list(itertools.combinations(range(12), 4)))
    all_values, _ = sampler._group_gain(every, RoundType.BEST4)
    best = {tuple(g) for g, v in zip(groups.tolist(), value, strict=True) if v >= value.max() - 1e-15}
    served = tuple(sorted(names.index(n) for n in sampler.next_group(4, "best4")))
    assert served in best
    # among all 495 groups of four it is one of the most valuable
    assert value.max() >= np.quantile(all_values, 0.95)


def test_unvoted_names_are_grouped_before_well_known_ones():
    names = [f"m{k}" for k in range(12)]
    sampler = ActiveSampler(names, seed=0, group_explore=0.0)
    rng = np.random.default_rng(0)
    for _ in range(400):  # m0..m7 compared often, m8..m11 never
        a, b = rng.choice(8, 2, replace=False)
        sampler.observe(names[a], names[b], "model_a" if a < b else "model_b")
    group = sampler.next_group(4, "best4")
    assert sum(name in {"m8", "m9", "m10", "m11"} for name in group) >= 3


class RecordingSampler(UniformSampler):
    """A uniform sampler that remembers the round types it was asked for."""

    asked: list[object] = []

    def next_group(self, size, round_type=None):
        RecordingSampler.asked.append(round_type)
        return super().next_group(size, round_type)


def test_the_pool_tells_the_sampler_what_the_round_asks():
    from types import SimpleNamespace

    images = [
        SimpleNamespace(
            model_id=m, model=f"m{m}", prompt_id=1, prompt="p", image_id=m, sha256=f"{m:064x}", format="png"
        )
        for m in range(5)
    ]
    RecordingSampler.asked.clear()
    pool = StudyPool(
        study_id=1,
        name="s",
        epoch=0,
        version=(0,),
        images=images,
        sampler_factory=lambda models: RecordingSampler(models, seed=0),
        round_type="order4",
    )
    pool.draw_group(4)
    assert RecordingSampler.asked == [RoundType.ORDER4]
