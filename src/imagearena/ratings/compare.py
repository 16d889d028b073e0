"""How far two leaderboards of the same models agree: Kendall tau and Spearman rho of their ratings, and
the pairs of models they order most differently.

Used to set an automatic arena (a judge voting on the matches people saw) beside the human one. Only the
models both boards rate are compared; with fewer than two of them, or when a board rates them all alike,
the coefficients are None rather than a number that means nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Two models that the boards order differently: ``human_gap`` and ``judge_gap`` are the rating of
    ``model_a`` minus that of ``model_b`` on each board (opposite signs, or one of them zero)."""

    model_a: str
    model_b: str
    human_gap: float
    judge_gap: float


@dataclass(frozen=True, slots=True)
class BoardComparison:
    models: int
    kendall_tau: float | None
    spearman: float | None
    disagreements: list[Disagreement]


def _coefficient(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def compare_boards(
    human: Mapping[str, float], judge: Mapping[str, float], *, top: int = 10
) -> BoardComparison:
    """Kendall tau-b and Spearman rho between the ratings of the models both boards have, and up to
    ``top`` disagreeing pairs, the largest by the product of their two gaps' sizes first (a pair both
    boards call close is a weak disagreement)."""
    from scipy.stats import kendalltau, spearmanr

    common = sorted(set(human) & set(judge))
    tau = rho = None
    if len(common) >= 2:
        x = [float(human[m]) for m in common]
        y = [float(judge[m]) for m in common]
        if len(set(x)) > 1 and len(set(y)) > 1:
            tau = _coefficient(kendalltau(x, y).statistic)
            rho = _coefficient(spearmanr(x, y).statistic)
    found = []
    for a, b in combinations(common, 2):
        h, j = human[a] - human[b], judge[a] - judge[b]
        if h * j < 0 or (h == 0) != (j == 0):
            found.append(Disagreement(a, b, float(h), float(j)))
    found.sort(key=lambda d: (-abs(d.human_gap * d.judge_gap), -abs(d.human_gap), d.model_a, d.model_b))
    return BoardComparison(len(common), tau, rho, found[: max(0, top)])
