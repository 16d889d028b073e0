"""TrueSkill replay equals the trueskill package, pairs and four-image rounds (multi-way updates)."""

from __future__ import annotations

import numpy as np
import pytest
import trueskill

from imagearena.errors import InputError
from imagearena.ratings import Battles, leaderboard
from imagearena.ratings.rounds import rounds_to_battles
from imagearena.ratings.trueskill import TrueSkillEnv, rate_rounds, replay_trueskill
from imagearena.types import RoundType

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


def test_nway_ties_equal_the_package() -> None:
    # TrueSkill's chain of neighbours: tied b and c end close but not equal (c meets a only through b)
    r = rate_rounds([["a", "b", "c"]], ranks=[[1, 2, 2]])
    env = trueskill.TrueSkill()
    pkg = env.rate([(env.create_rating(),)] * 3, ranks=[0, 1, 1])
    for name, (got,) in zip("abc", pkg, strict=True):
        assert r[name] == pytest.approx((got.mu, got.sigma), abs=1e-6)
    assert r["b"][0] == pytest.approx(r["c"][0], abs=0.01)


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


def _mixed(
    seed: int, best4_share: float, m: int = 8, n: int = 60
) -> tuple[Battles, list[tuple[str, object]]]:
    """Pair votes and order4 / best4 rounds interleaved in time; also the same events as a script for
    the package (("pair", (x, y, code)) or ("round", (names, ranks)))."""
    rng = np.random.default_rng(seed)
    names = [f"m{i}" for i in range(m)]
    pa, pb, pw, pt = [], [], [], []
    players, ranks, types, ids, rt = [], [], [], [], []
    events: list[tuple[float, tuple[str, object]]] = []
    for k in range(n):
        t = float(k)
        if rng.random() < 0.5:
            i, j = rng.choice(m, 2, replace=False)
            o = int(rng.integers(0, 4))
            pa.append(names[i]), pb.append(names[j]), pw.append(WINNERS[o]), pt.append(t)
            events.append((t, ("pair", (names[i], names[j], o))))
        else:
            four = rng.choice(m, 4, replace=False)
            kind = RoundType.BEST4 if rng.random() < best4_share else RoundType.ORDER4
            if kind is RoundType.ORDER4:
                r = rng.integers(1, 5, 4).tolist()
            else:
                r = [2, 2, 2, 2]
                r[int(rng.integers(4))] = 1
            players.append(four), ranks.append(r), types.append(kind), ids.append(k), rt.append(t)
            events.append((t, ("round", ([names[x] for x in four], r, kind))))
    pairs = Battles.from_records(pa, pb, pw, pt)
    rounds = rounds_to_battles(names, np.array(players), np.array(ranks), types, ids, rt)
    # rounds first in the file: the replay must follow the tstamps
    return Battles.concat([rounds, pairs]), [e for _, e in sorted(events, key=lambda e: e[0])]


def _package_mixed(events: list[tuple[str, object]], env: trueskill.TrueSkill) -> dict[str, trueskill.Rating]:
    r: dict[str, trueskill.Rating] = {}

    def get(x: str) -> trueskill.Rating:
        return r.get(x) or env.create_rating()

    for kind, data in events:
        if kind == "pair":
            x, y, o = data  # type: ignore[misc]
            if o == 1:
                r[y], r[x] = trueskill.rate_1vs1(get(y), get(x), env=env)
            else:
                r[x], r[y] = trueskill.rate_1vs1(get(x), get(y), drawn=o >= 2, env=env)
        else:
            names, ranks, round_type = data  # type: ignore[misc]
            assert round_type is RoundType.ORDER4
            out = env.rate([(get(x),) for x in names], ranks=ranks)
            for x, (rating,) in zip(names, out, strict=True):
                r[x] = rating
    return r


def test_order4_rounds_are_the_package_multiway_rate() -> None:
    battles, events = _mixed(seed=3, best4_share=0.0)
    mu, sigma = replay_trueskill(battles)
    expected = _package_mixed(events, trueskill.TrueSkill())
    for k, m in enumerate(battles.models):
        if m in expected:
            assert mu[k] == pytest.approx(expected[m].mu, abs=1e-6)
            assert sigma[k] == pytest.approx(expected[m].sigma, abs=1e-6)


def test_without_groups_the_pair_replay_is_unchanged() -> None:
    battles = _random_battles(5, m=6, n=300, draw_share=0.25)
    plain = replay_trueskill(battles)
    tagged = Battles(battles.models, battles.a, battles.b, battles.outcome, battles.tstamp, battles.groups())
    assert tagged.group is not None
    for x, y in zip(plain, replay_trueskill(tagged), strict=True):
        assert x.tolist() == y.tolist()
    # a "round" of one pair is exactly the 1-v-1 update
    one = Battles(battles.models, battles.a[:1], battles.b[:1], battles.outcome[:1], None, [9])
    for x, y in zip(replay_trueskill(battles.take(slice(0, 1))), replay_trueskill(one), strict=True):
        assert x == pytest.approx(y, abs=1e-12)


def test_order4_is_one_multiway_update_not_six_games() -> None:
    names = ["a", "b", "c", "d"]
    group = rounds_to_battles(names, [[0, 1, 2, 3]], [[1, 2, 3, 4]], "order4", [0])
    six = Battles(names, group.a, group.b, group.outcome)  # the same pairs as independent games
    mu_g, sd_g = replay_trueskill(group)
    mu_6, sd_6 = replay_trueskill(six)
    # one order is one click: it moves the ratings less and leaves more uncertainty than six games
    assert mu_g[0] - mu_g[3] < mu_6[0] - mu_6[3]
    assert (sd_g > sd_6).all()
    # and the order is kept, symmetric about the start
    assert mu_g[0] > mu_g[1] > 25.0 > mu_g[2] > mu_g[3]
    assert mu_g[0] - 25 == pytest.approx(25 - mu_g[3]) and sd_g[1] == pytest.approx(sd_g[2])


def test_best4_pick_leaves_the_other_three_unordered() -> None:
    names = ["a", "b", "c", "d"]
    pick = rounds_to_battles(names, [[0, 1, 2, 3]], [[2, 1, 2, 2]], "best4", [0])
    mu, sd = replay_trueskill(pick)
    assert mu[1] > 25.0 and mu[0] == pytest.approx(mu[2]) == pytest.approx(mu[3]) and mu[0] < 25.0
    assert sd[0] == pytest.approx(sd[2]) == pytest.approx(sd[3])
    # not a three-way draw among the unpicked: that would claim evidence and shrink their sigma more
    drawn = rate_rounds([["b", "a", "c", "d"]], ranks=[[1, 2, 2, 2]])
    assert sd[0] > drawn["a"][1]
    # and one pick is less evidence than the three pair games it breaks into
    mu_3, sd_3 = replay_trueskill(Battles(names, pick.a, pick.b, pick.outcome))
    assert mu[1] < mu_3[1] and sd[1] > sd_3[1]


def test_no_clear_best_is_a_four_way_draw() -> None:
    names = ["a", "b", "c", "d"]
    r = rounds_to_battles(names, [[0, 1, 2, 3]], [[1, 1, 1, 1]], "best4", [0])
    mu, sd = replay_trueskill(r)
    assert mu == pytest.approx([25.0] * 4, abs=0.02) and (sd < 25 / 3).all()


def test_leaderboard_methods_on_grouped_battles() -> None:
    battles, _ = _mixed(seed=4, best4_share=0.5)
    plain = Battles(battles.models, battles.a, battles.b, battles.outcome, battles.tstamp)
    # Elo and the Bradley-Terry ratings read the rank-broken pairs as they are
    assert leaderboard(battles, "elo") == leaderboard(plain, "elo")
    grouped = {r.model: r for r in leaderboard(battles, "bt")}
    for row in leaderboard(plain, "bt"):
        assert grouped[row.model].rating == pytest.approx(row.rating)
        # the battles of one round are not independent: its intervals are wider
        assert grouped[row.model].upper - grouped[row.model].lower > row.upper - row.lower
    # TrueSkill rates the rounds as multi-way updates
    assert leaderboard(battles, "trueskill") != leaderboard(plain, "trueskill")
