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


def _played(sampler, rounds, rng, truth):
    """``rounds`` uniform rounds answered by a Plackett-Luce crowd on ``truth`` (natural scale), half
    best-of-4 picks and half orders of four; returns each round's names (indices) and type."""
    names = sampler.models
    played = []
    for r in range(rounds):
        group = rng.choice(len(names), 4, replace=False)
        keys = truth[group] + rng.gumbel(size=4)
        ranks = np.empty(4, dtype=np.int64)
        ranks[np.argsort(-keys)] = np.arange(1, 5)
        if r % 2:
            sampler.observe_round([names[g] for g in group], ranks.tolist(), "order4")
            played.append((group, RoundType.ORDER4))
        else:
            sampler.observe_round([names[g] for g in group], [1 if x == 1 else 2 for x in ranks], "best4")
            played.append((group, RoundType.BEST4))
    return played


def test_a_refit_counts_each_round_as_one_decision():
    """The refit's precision is the pair votes' Laplacian plus each round's own information at the
    fitted strengths, not its rank-broken battles read as independent votes."""
    names = [f"m{k}" for k in range(7)]
    sampler = ActiveSampler(names, seed=1, prior_sd=300.0)
    rng = np.random.default_rng(3)
    truth = rng.normal(size=7)
    played = _played(sampler, 40, rng, truth)
    pairs = [("m0", "m1", "model_a"), ("m2", "m5", "tie"), ("m6", "m0", "model_b"), ("m0", "m1", "model_b")]
    for a, b, w in pairs:
        sampler.observe(a, b, w)
    sampler.refit()
    theta = sampler._theta
    precision = np.eye(7) / (300.0 * np.log(10) / 400) ** 2
    for a, b, _ in pairs:
        i, j = names.index(a), names.index(b)
        p = 1.0 / (1.0 + np.exp(theta[j] - theta[i]))
        u = np.eye(7)[i] - np.eye(7)[j]
        precision += p * (1.0 - p) * np.outer(u, u)
    for group, round_type in played:  # each round by its information
        precision[np.ix_(group, group)] += round_information(theta[group][None, :], round_type)[0]
    np.testing.assert_allclose(sampler._cov, np.linalg.inv(precision), rtol=1e-9, atol=1e-12)


def test_stored_rounds_count_as_the_rounds_observed_one_by_one():
    """A pool loaded from stored battles (rank-broken rounds with their round ids, a best-of-4 with no
    clear best among them) ends in the same state as one that saw the rounds as they came."""
    from imagearena.ratings.rounds import rounds_to_battles

    names = [f"m{k}" for k in range(6)]
    players = [[0, 1, 2, 3], [2, 3, 4, 5], [5, 0, 1, 4], [1, 2, 3, 4]]
    ranks = [[2, 1, 2, 2], [1, 2, 3, 4], [1, 1, 1, 1], [4, 2, 2, 1]]
    kinds = ["best4", "order4", "best4", "order4"]
    live = ActiveSampler(names, seed=0, prior_sd=200.0)
    for p, r, k in zip(players, ranks, kinds, strict=True):
        live.observe_round([names[x] for x in p], r, k)
    loaded = ActiveSampler(names, seed=0, prior_sd=200.0)
    loaded.observe_battles(rounds_to_battles(names, players, ranks, kinds, [10, 11, 12, 13]))
    live.refit()
    loaded.refit()
    np.testing.assert_allclose(loaded._cov, live._cov, atol=1e-12)
    np.testing.assert_allclose(loaded._theta, live._theta, atol=1e-12)


def test_the_sampler_is_as_sure_of_its_ranking_as_it_should_be():
    """Over seeded rankings of best-of-4 and order-of-4 rounds the fitted differences miss the true
    ones by about their posterior standard deviation (mean squared z near 1); reading each round's
    battles as independent votes made the sampler about twice as sure as it should be."""
    names = [f"m{k}" for k in range(8)]
    z2 = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        truth = rng.normal(scale=0.6, size=8)
        sampler = ActiveSampler(names, seed=seed, prior_sd=2000.0)
        _played(sampler, 120, rng, truth)
        sampler.refit()
        i, j = np.triu_indices(8, 1)
        miss = (sampler._theta[i] - sampler._theta[j]) - (truth[i] - truth[j])
        z2.append(miss**2 / sampler._var_d[i, j])
    assert 0.8 < np.mean(z2) < 1.25
