"""TrueSkill replay equals the trueskill package; N-way rounds through openskill."""

from __future__ import annotations

import numpy as np
import pytest
import trueskill

from imagearena.errors import InputError
from imagearena.ratings import Battles
from imagearena.ratings.trueskill import TrueSkillEnv, rate_rounds, replay_trueskill

WINNERS = ["model_a", "model_b", "tie", "both_bad"]


def _random_battles(seed: int, m: int, n: int, draw_share: float) -> Battles:
    rng = np.random.default_rng(seed)
    names = [f"m{i}" for i in range(m)]
    strength = rng.normal(0, 1, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    o = np.where(rng.random(n) < draw_share, rng.integers(2, 4, n), (rng.random(n) > p).astype(int))
    ts = rng.permutation(n).astype(float)  # replay order differs from file order
    return Battles.from_records([names[i] for i in a], [names[i] for i in b], [WINNERS[i] for i in o], ts)


def _package_replay(battles: Battles, env: trueskill.TrueSkill) -> dict[str, trueskill.Rating]:
    r = {m: env.create_rating() for m in battles.models}
    for k in battles.order().tolist():
        x, y, o = battles.models[battles.a[k]], battles.models[battles.b[k]], int(battles.outcome[k])
        if o == 1:
            r[y], r[x] = trueskill.rate_1vs1(r[y], r[x], env=env)
        else:
            r[x], r[y] = trueskill.rate_1vs1(r[x], r[y], drawn=o >= 2, env=env)
    return r


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (0, {}),
        (1, {"mu": 30.0, "sigma": 6.0, "beta": 3.0, "tau": 0.5, "draw_probability": 0.3}),
        (2, {"draw_probability": 0.0}),
        (3, {"tau": 0.0, "draw_probability": 0.05}),
    ],
)
def test_equals_trueskill_package(seed: int, params: dict) -> None:
    battles = _random_battles(seed, m=7, n=400, draw_share=0.25)
    expected = _package_replay(battles, trueskill.TrueSkill(**params))
    mu, sigma = replay_trueskill(battles, TrueSkillEnv(**params))
    for k, m in enumerate(battles.models):
        assert mu[k] == pytest.approx(expected[m].mu, abs=1e-6)
        assert sigma[k] == pytest.approx(expected[m].sigma, abs=1e-6)


def test_defaults_are_the_package_defaults() -> None:
    env, pkg = TrueSkillEnv(), trueskill.TrueSkill()
    assert (env.mu, env.sigma, env.beta, env.tau) == pytest.approx((pkg.mu, pkg.sigma, pkg.beta, pkg.tau))
    assert env.draw_probability == pkg.draw_probability


def test_winner_gains_and_uncertainty_shrinks() -> None:
    mu, sigma = replay_trueskill(Battles.from_records(["x"], ["y"], ["model_b"]))
    assert mu[1] > 25 > mu[0]
    assert sigma.max() < 25 / 3


def test_invalid_environment() -> None:
    with pytest.raises(InputError):
        TrueSkillEnv(draw_probability=1.0)


def test_nway_rounds_rank_the_consistent_winner_first() -> None:
    rounds = [["a", "b", "c", "d"], ["a", "c", "b", "d"], ["b", "a", "d", "c"], ["a", "b", "c", "d"]]
    r = rate_rounds(rounds)
    assert sorted(r, key=lambda m: -r[m][0])[0] == "a"
    assert r["d"][0] < 25 < r["a"][0]
    assert all(s < 25 / 3 for _, s in r.values())


def test_nway_ties_share_the_update() -> None:
    r = rate_rounds([["a", "b", "c"]], ranks=[[1, 2, 2]])
    assert r["b"] == pytest.approx(r["c"])


def test_nway_round_validation() -> None:
    with pytest.raises(InputError, match="round 2"):
        rate_rounds([["a", "b"], ["a", "a"]])


def test_nway_ranks_must_match_rounds() -> None:
    with pytest.raises(InputError, match="2 rounds but 1 rank lists"):
        rate_rounds([["a", "b"], ["b", "a"]], ranks=[[1, 2]])


def test_first_game_matches_the_published_example() -> None:
    # the trueskill documentation: rate_1vs1(Rating(), Rating()) -> 29.396 / 20.604, sigma 7.171;
    # a draw leaves both at 25.000 with sigma 6.458
    mu, sigma = replay_trueskill(Battles.from_records(["x"], ["y"], ["model_a"]))
    assert mu.round(3).tolist() == [29.396, 20.604] and sigma.round(3).tolist() == [7.171, 7.171]
    mu, sigma = replay_trueskill(Battles.from_records(["x"], ["y"], ["both_bad"]))
    assert mu.round(3).tolist() == [25.0, 25.0] and sigma.round(3).tolist() == [6.458, 6.458]
