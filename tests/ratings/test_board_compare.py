"""Kendall tau and Spearman between two boards, against values worked out by hand, and the pairs of
models they order most differently."""

from __future__ import annotations

import pytest

from imagearena.ratings.compare import compare_boards


def test_identical_order_is_one() -> None:
    result = compare_boards({"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 30.0, "b": 20.0, "c": -5.0})
    assert result.kendall_tau == pytest.approx(1.0) and result.spearman == pytest.approx(1.0)
    assert result.disagreements == []


def test_one_swap_of_four() -> None:
    human = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}
    judge = {"a": 4.0, "b": 2.0, "c": 3.0, "d": 1.0}
    result = compare_boards(human, judge)
    # 6 pairs, 5 concordant and 1 discordant: tau = (5 - 1) / 6; rho = 1 - 6 * 2 / (4 * 15)
    assert result.kendall_tau == pytest.approx(4 / 6)
    assert result.spearman == pytest.approx(0.8)
    (only,) = result.disagreements
    assert (only.model_a, only.model_b, only.human_gap, only.judge_gap) == ("b", "c", 1.0, -1.0)


def test_reversed_and_largest_disagreement_first() -> None:
    human = {"a": 3.0, "b": 2.0, "c": 0.0}
    judge = {"a": 0.0, "b": 1.0, "c": 3.0}
    result = compare_boards(human, judge, top=2)
    assert result.kendall_tau == pytest.approx(-1.0) and result.spearman == pytest.approx(-1.0)
    assert [(d.model_a, d.model_b) for d in result.disagreements] == [("a", "c"), ("b", "c")]


def test_only_common_models_and_degenerate_boards() -> None:
    result = compare_boards({"a": 1.0, "x": 5.0}, {"a": 2.0, "y": 1.0})
    assert result.models == 1 and result.kendall_tau is None and result.spearman is None
    flat = compare_boards({"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 1.0})
    assert flat.kendall_tau is None
    assert [(d.model_a, d.model_b) for d in flat.disagreements] == [("a", "b")]
