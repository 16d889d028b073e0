"""Simulated arenas: the Davidson voter, the metrics, determinism, and `imagearena simulate`."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations

import numpy as np
import pytest
from typer.testing import CliRunner

from imagearena.cli.app import app
from imagearena.errors import InputError
from imagearena.ratings.simulate import (
    DavidsonVoter,
    ImageRankerReplay,
    RoundVoter,
    davidson_nu,
    default_checkpoints,
    draw_strengths,
    kendall_tau,
    run_clicks,
    simulate,
    top_k_overlap,
    vote_information,
)
from imagearena.types import LOGIT_PER_ELO

runner = CliRunner()


def test_davidson_nu_gives_the_requested_draw_share() -> None:
    strengths = draw_strengths(20, 150.0, np.random.default_rng(0))
    nu = davidson_nu(strengths, 0.25)
    voter = DavidsonVoter(strengths, nu, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    outcomes = []
    for _ in range(20_000):
        i, j = rng.choice(20, 2, replace=False)
        outcomes.append(voter.vote(int(i), int(j)))
    assert np.mean(np.array(outcomes) == 2) == pytest.approx(0.25, abs=0.01)
    assert davidson_nu(strengths, 0.0) == 0.0


def test_voter_follows_bradley_terry_without_draws() -> None:
    """200 Elo up wins 1 / (1 + 10 ** -0.5) = 76.0% of the time."""
    voter = DavidsonVoter(np.array([200.0, 0.0]), 0.0, np.random.default_rng(3))
    wins = [voter.vote(0, 1) for _ in range(20_000)]
    assert 2 not in wins
    assert np.mean(np.array(wins) == 0) == pytest.approx(0.7597, abs=0.01)


def test_equal_models_draw_at_nu_over_two_plus_nu() -> None:
    voter = DavidsonVoter(np.zeros(2), 1.0, np.random.default_rng(4))
    votes = np.array([voter.vote(0, 1) for _ in range(20_000)])
    assert np.mean(votes == 2) == pytest.approx(1 / 3, abs=0.01)
    assert np.mean(votes == 0) == pytest.approx(1 / 3, abs=0.01)


def test_kendall_tau_and_top_k_by_hand() -> None:
    truth = np.array([4.0, 3.0, 2.0, 1.0])
    assert kendall_tau(truth, truth * 10) == 1.0
    assert kendall_tau(truth, -truth) == -1.0
    # one of the six pairs swapped: (5 - 1) / 6
    assert kendall_tau(truth, np.array([3.0, 4.0, 2.0, 1.0])) == pytest.approx(4 / 6)
    # an all-tied estimate orders nothing
    assert kendall_tau(truth, np.zeros(4)) == 0.0
    assert top_k_overlap(truth, np.array([4.0, 1.0, 3.0, 2.0]), 2) == 0.5
    assert top_k_overlap(truth, np.array([1.0, 2.0, 3.0, 4.0]), 1) == 0.0


def test_default_checkpoints() -> None:
    assert default_checkpoints(5000) == [500 * k for k in range(1, 11)]
    assert default_checkpoints(3) == [1, 2, 3]


def test_simulation_is_deterministic_and_improves_with_votes() -> None:
    kwargs = dict(models=10, votes=800, seeds=3, spread=200.0, checkpoints=[20, 800])
    one, two = simulate(**kwargs), simulate(**kwargs)
    for name in ("active", "uniform"):
        np.testing.assert_array_equal(one.tau[name], two.tau[name])
        assert one.tau[name][:, 1].mean() > one.tau[name][:, 0].mean() + 0.1
        assert 0.15 < one.tie_share[name] < 0.4
    other = simulate(**{**kwargs, "first_seed": 10})
    assert not np.array_equal(one.tau["uniform"], other.tau["uniform"])


@pytest.mark.parametrize(
    "kwargs",
    [{"models": 1}, {"votes": 0}, {"tie_rate": 1.0}, {"spread": 0.0}, {"votes": 100, "checkpoints": [200]}],
)
def test_simulation_rejects_bad_settings(kwargs) -> None:
    with pytest.raises(InputError):
        simulate(**{"seeds": 1, **kwargs})


def test_votes_to_reach() -> None:
    result = simulate(models=6, votes=300, seeds=2, samplers=("uniform",), checkpoints=[100, 200, 300])
    reach = result.votes_to_reach("uniform", -1.0)
    assert list(reach) == [100.0, 100.0]
    assert np.isnan(result.votes_to_reach("uniform", 1.01)).all()


def test_cli_table() -> None:
    result = runner.invoke(
        app, ["simulate", "--models", "8", "--votes", "200", "--seeds", "2", "--checkpoints", "100,200"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for word in (
        "tau",
        "active",
        "uniform",
        "top-1",
        "top-5",
        "8 models, 2 seeds",
        "median votes to Kendall tau",
    ):
        assert word in out
    rows = [line for line in out.splitlines() if line.strip("│ ").startswith(("100 ", "200 "))]
    assert len(rows) == 2


def test_cli_json_single_sampler() -> None:
    result = runner.invoke(
        app,
        ["simulate", "--models", "6", "--votes", "120", "--seeds", "2", "--sampler", "uniform"]
        + ["--checkpoints", "60", "--checkpoints", "120", "--format", "json", "--top-k", "3"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["checkpoints"] == [60, 120]
    assert list(data["samplers"]) == ["uniform"]
    assert data["settings"] == {
        "models": 6,
        "votes": 120,
        "seeds": 2,
        "first_seed": 0,
        "tie_rate": 0.25,
        "spread": 100.0,
        "top_k": 3,
    }
    row = data["samplers"]["uniform"]["checkpoints"][1]
    assert set(row) == {"votes", "kendall_tau", "kendall_tau_median", "top1", "topk"}
    assert -1.0 <= row["kendall_tau"] <= 1.0 and 0.0 <= row["topk"] <= 1.0


def test_cli_bad_checkpoints_print_one_line_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", "simulate", "--votes", "100", "--checkpoints", "50,abc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "--checkpoints '50,abc'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_vote_information_without_draws_is_p_times_1_minus_p_and_draws_lower_it() -> None:
    delta = np.array([0.0, 0.5, 2.0, -2.0])
    p = 1.0 / (1.0 + np.exp(-delta))
    np.testing.assert_allclose(vote_information(delta, 0.0), p * (1 - p))
    with_draws = vote_information(delta, 1.0)
    assert with_draws[2] == pytest.approx(with_draws[3])
    # equal models, nu = 1: a third each of wins, losses and draws; score variance 1/3 - 1/4 + 1/12 = 1/6,
    # slope of the mean score (1 + 2/4) / 3^2 = 1/6, so the information is (1/6)^2 / (1/6) = 1/6
    assert with_draws[0] == pytest.approx(1 / 6)
    # draws cost information between close models (far apart, a draw is a graded result and helps a little)
    assert np.all(with_draws[:2] < vote_information(delta, 0.0)[:2] - 0.05)


def test_vote_information_matches_a_numerical_derivative() -> None:
    """The closed-form slope is the derivative of the Davidson mean half-win score."""
    nu, h = 0.8, 1e-4

    def mean_score(d: float) -> float:
        e = np.exp(np.array([d / 2, -d / 2]))
        return float((e[0] + 0.5 * nu) / (e.sum() + nu))

    d = 0.7
    slope = (mean_score(d + h) - mean_score(d - h)) / (2 * h)
    e = np.exp(np.array([d / 2, -d / 2]))
    den = e.sum() + nu
    win, tie = e[0] / den, nu / den
    var = win + tie / 4 - (win + tie / 2) ** 2
    assert vote_information(np.array([d]), nu)[0] == pytest.approx(slope**2 / var, rel=1e-6)


# -- four-image rounds and label efficiency ----------------------------------------------------------


def test_round_voter_picks_and_orders_by_plackett_luce() -> None:
    strengths = np.array([300.0, 100.0, 0.0, -200.0])
    voter = RoundVoter(strengths, 0.0, np.random.default_rng(5))
    softmax = np.exp(strengths * LOGIT_PER_ELO) / np.exp(strengths * LOGIT_PER_ELO).sum()
    picks = np.array([voter.best4([0, 1, 2, 3]) for _ in range(8000)])
    assert ((picks == 1).sum(axis=1) == 1).all() and ((picks == 2).sum(axis=1) == 3).all()
    np.testing.assert_allclose((picks == 1).mean(axis=0), softmax, atol=0.015)
    orders = np.array([voter.order4([3, 2, 1, 0]) for _ in range(8000)])  # display order reversed
    assert (np.sort(orders, axis=1) == [1, 2, 3, 4]).all()
    np.testing.assert_allclose((orders == 1).mean(axis=0), softmax[::-1], atol=0.015)
    # second place: Plackett-Luce's next choice among the rest, e.g. model 1 after model 0 won
    p01 = softmax[0] * softmax[1] / (1 - softmax[0])
    assert np.mean((orders[:, 3] == 1) & (orders[:, 2] == 2)) == pytest.approx(p01, abs=0.015)


def test_image_ranker_replay_rings_then_shows_every_pair() -> None:
    names = [f"m{k}" for k in range(7)]
    replay = ImageRankerReplay(names, seed=3)
    ring = [replay.next_pair() for _ in range(7)]
    for a, b in ring:
        replay.observe(a, b, "model_a")
    degree = {n: sum(n in p for p in ring) for n in names}
    assert set(degree.values()) == {2}  # a cycle through every image
    rest = []
    for _ in range(15):
        a, b = replay.next_pair()
        rest.append((a, b))
        replay.observe(a, b, "tie")
    shown = {frozenset(p) for p in ring + rest}
    assert shown == {frozenset(p) for p in combinations(names, 2)}
    assert replay.mu[names.index(ring[0][0])] != 25.0  # TrueSkill moved


def test_run_clicks_counts_clicks_per_round_type() -> None:
    strengths = draw_strengths(8, 300.0, np.random.default_rng(0))
    nu = davidson_nu(strengths, 0.25)
    cps = [30, 150]
    traces = {
        s: run_clicks(s, strengths, nu, cps, seed=1)
        for s in ("uniform-pair", "imageranker", "active-best4", "uniform-order4", "active-order4")
    }
    assert traces["uniform-pair"].rounds == 150 and traces["active-best4"].rounds == 150
    assert traces["uniform-order4"].rounds == traces["active-order4"].rounds == 50
    assert traces["imageranker"].own_tau is not None and traces["uniform-pair"].own_tau is None
    for trace in traces.values():
        assert trace.tau[1] > 0.5 and trace.tau[1] >= trace.tau[0] - 0.2
    again = run_clicks("active-order4", strengths, nu, cps, seed=1)
    np.testing.assert_array_equal(again.tau, traces["active-order4"].tau)
    with pytest.raises(InputError, match="unknown strategy"):
        run_clicks("thompson-pair", strengths, nu, cps, seed=1)
