"""Judge-vs-human agreement arithmetic: the ImageReward Table 3 protocol, breakdowns, tie margins, the
human ceiling, and the multinomial bootstrap against a plain resampling bootstrap."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from imagearena.errors import InputError
from imagearena.ratings.agreement import (
    agreement,
    grouped_bootstrap,
    human_ceiling,
    pooled_pairs,
    ratio_bootstrap,
)
from imagearena.ratings.battles import BOTH_BAD, MODEL_A, MODEL_B, TIE


def table3_by_hand(items: list[dict], scores: list[list[float]]) -> tuple[int, int]:
    """The paper's loop: every pair i < j of a prompt's images with different ranks; right when the
    better-ranked (lower rank) image scores strictly higher."""
    right = total = 0
    for item, s in zip(items, scores, strict=True):
        r = item["ranking"]
        for i, j in itertools.combinations(range(len(r)), 2):
            if r[i] == r[j]:
                continue
            total += 1
            better, worse = (i, j) if r[i] < r[j] else (j, i)
            right += s[better] > s[worse]
    return right, total


def test_table3_protocol_on_the_real_rankings(shared_data):
    items = json.loads((shared_data / "imagereward-test.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(7)
    # scores on a coarse grid, so many pairs are scorer ties (wrong), and leaning towards the humans
    scores = [
        list(np.round(-0.3 * np.asarray(it["ranking"]) + rng.normal(size=len(it["ranking"])), 1))
        for it in items
    ]
    right, total = table3_by_hand(items, scores)
    sa, sb, outcome, prompt = pooled_pairs([it["ranking"] for it in items], scores)
    result = agreement(sa, sb, outcome, cluster=prompt, rounds=200)
    assert total == 6399 and len(outcome) == 6399 and len(np.unique(prompt)) == 466
    assert (sa == sb).sum() > 100  # the grid makes scorer ties, which the hand loop counts wrong
    assert (result.decisive.correct, result.decisive.n) == (right, total)
    assert result.decisive.accuracy == pytest.approx(right / total)
    assert result.decisive.lower < right / total < result.decisive.upper
    assert result.unscored == 0 and result.ties is None


def test_scorer_ties_are_wrong_and_a_margin_scores_human_ties():
    a = np.array([1.0, 1.0, 2.0, 0.0, 1.0, 1.0, 5.0, np.nan])
    b = np.array([0.0, 1.0, 1.95, 1.0, 1.02, 3.0, 0.0, 0.0])
    out = np.array([MODEL_A, MODEL_A, MODEL_A, MODEL_B, TIE, TIE, BOTH_BAD, MODEL_A])
    plain = agreement(a, b, out, rounds=0)
    # decisive and scored: pairs 0..3; right: 0 (1>0), 2 (2>1.95), 3 (0<1); 1 is a scorer tie
    assert (plain.decisive.correct, plain.decisive.n, plain.unscored) == (3, 4, 1)
    assert plain.ties is None
    wide = agreement(a, b, out, margin=0.1, rounds=0)
    # pair 2 (0.05 apart) is now a scorer tie; on ties pair 4 (0.02 apart) is right, 5 is not
    assert (wide.decisive.correct, wide.decisive.n) == (2, 4)
    assert wide.ties is not None and (wide.ties.correct, wide.ties.n) == (1, 2)
    with pytest.raises(InputError, match="tie margin"):
        agreement(a, b, out, margin=-1)


def test_breakdowns_count_each_group_and_clusters_move_together():
    rng = np.random.default_rng(3)
    n = 3000
    a, b = rng.normal(size=n), rng.normal(size=n)
    out = rng.integers(0, 4, size=n)
    groups = rng.integers(0, 5, size=n)
    labels = ["p", "q", "r", "s", "t"]
    cluster = np.repeat(np.arange(n // 3), 3)
    result = agreement(a, b, out, cluster=cluster, breakdowns={"g": (groups, labels)}, rounds=100)
    decisive = out <= MODEL_B
    right = decisive & (np.where(out == MODEL_A, a > b, a < b))
    seen = {g.group: g.accuracy for g in result.breakdowns["g"]}
    assert set(seen) == set(labels)
    for k, label in enumerate(labels):
        mine = groups == k
        assert (seen[label].correct, seen[label].n) == (
            int((right & mine).sum()),
            int((decisive & mine).sum()),
        )
    assert [g.accuracy.n for g in result.breakdowns["g"]] == sorted(
        (g.n for g in seen.values()), reverse=True
    )


def plain_bootstrap(right: np.ndarray, counted: np.ndarray, rounds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(right), size=(rounds, len(right)))
    return right[idx].sum(axis=1) / counted[idx].sum(axis=1)


def test_the_multinomial_bootstrap_matches_resampling_clusters():
    rng = np.random.default_rng(11)
    counted = rng.choice([1, 3, 6], size=400)
    right = rng.binomial(counted, 0.62)
    ours = ratio_bootstrap(right, counted, rounds=4000, rng=np.random.default_rng(1))
    theirs = np.quantile(plain_bootstrap(right, counted, 4000, 2), [0.025, 0.975])
    assert ours.correct == right.sum() and ours.n == counted.sum()
    assert ours.lower == pytest.approx(theirs[0], abs=0.006)
    assert ours.upper == pytest.approx(theirs[1], abs=0.006)
    # the interval widens when the same pairs are clustered in rounds (they move together)
    alone = ratio_bootstrap(np.repeat(right > counted / 2, 6), np.ones(6 * 400, int), rounds=2000)
    rounds = ratio_bootstrap(6 * (right > counted / 2), np.full(400, 6), rounds=2000)
    assert alone.accuracy == rounds.accuracy
    assert (rounds.upper - rounds.lower) > 2 * (alone.upper - alone.lower)


def test_bootstrap_is_seeded_and_empty_input_has_no_accuracy():
    right, counted = np.array([1, 0, 1, 1]), np.ones(4, int)
    first = ratio_bootstrap(right, counted, rng=np.random.default_rng(5))
    assert first == ratio_bootstrap(right, counted, rng=np.random.default_rng(5))
    empty = ratio_bootstrap(np.zeros(0), np.zeros(0))
    assert (empty.n, empty.accuracy, empty.lower) == (0, None, None)
    assert grouped_bootstrap(np.zeros(0), np.zeros(0), np.zeros(0), []) == []


def test_human_ceiling_counts_agreeing_pairs_of_different_voters():
    # images 1 and 2: voters 0, 1 prefer 1 (voter 1 saw 2 on the left), voter 2 prefers 2;
    # voter 0's second vote, a vote by an unknown voter (-1) and a tie are left out
    x = np.array([1, 2, 1, 1, 1, 2, 7, 3])
    y = np.array([2, 1, 2, 2, 2, 1, 8, 4])
    out = np.array([MODEL_A, MODEL_B, MODEL_B, MODEL_B, MODEL_B, TIE, MODEL_A, MODEL_A])
    who = np.array([0, 1, 2, 0, -1, 3, 4, 4])
    ceiling = human_ceiling(x, y, out, who, rounds=50)
    # a=2, b=1: 2*1 + 1*0 = 2 agreeing ordered pairs of 3*2; images (7, 8) and (3, 4) had one voter each
    assert (ceiling.agreement.correct, ceiling.agreement.n) == (2, 6)
    assert (ceiling.votes, ceiling.image_pairs) == (3, 1)
    nobody = human_ceiling(x[:1], y[:1], out[:1], who[:1])
    assert nobody.agreement.accuracy is None and nobody.image_pairs == 0
