"""The automatic leaderboard of a bulk run: per generator the mean score with a 95% interval, per
scorer and per prompt category, and Bradley-Terry over per-prompt comparisons of the scores.

A generator's score is the mean over prompts of the mean over that prompt's images (the ImageReward
paper's Table 1 protocol), and its interval is a Student-t interval over those per-prompt means: the
images of one prompt share it, so the prompt is the unit of replication. For Bradley-Terry each prompt
is one battle per pair of generators, won by the higher per-prompt mean (equal means tie), fitted by
the human leaderboard's method (``leaderboard`` with ``RatingMethod.BT``: its sandwich 95% interval,
upper-bound ranks) with one option: ``prior_sd``, the Gaussian prior of the active sampler
(``ratings.sampling.INITIAL_PRIOR_SD``, 200 Elo) in place of the leaderboard's near-zero ridge. Scores
often separate generators completely (one wins on every prompt), where the maximum-likelihood rating
is infinite: with the tiny ridge it came out thousands of points away, with an interval that shrank
as the rating grew. With the prior it stays within a few hundred points and its interval keeps a
width; with many prompts that do not all go one way the prior barely moves the ratings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from imagearena.ratings.battles import Battles
from imagearena.ratings.leaderboard import leaderboard
from imagearena.ratings.sampling import INITIAL_PRIOR_SD
from imagearena.types import Outcome, RatingMethod, RatingRow

#: Per-prompt means closer than this count as equal (a tie) in the pairwise comparisons.
TIE_TOLERANCE = 1e-12
#: Label of prompts without a category in the per-category tables.
NO_CATEGORY = "(none)"
#: Prior standard deviation (Elo points) of the per-prompt Bradley-Terry strengths: the active sampler's.
PRIOR_SD = INITIAL_PRIOR_SD


@dataclass(frozen=True, slots=True)
class ImageScore:
    """One image's score: the generator that made it, its prompt and the scorer's value."""

    generator: str
    prompt: str
    value: float


@dataclass(frozen=True, slots=True)
class MeanCI:
    """A mean over ``prompts`` per-prompt means (``images`` images in all) and its 95% interval; the
    bounds are None with a single prompt."""

    mean: float
    lower: float | None
    upper: float | None
    prompts: int
    images: int


@dataclass(frozen=True)
class ScorerBoard:
    """One scorer's automatic leaderboard: generators by mean score (best first), their Bradley-Terry
    rows over per-prompt comparisons, and the means per prompt category."""

    scorer: str
    means: dict[str, MeanCI]
    bt: list[RatingRow]
    categories: dict[str, dict[str, MeanCI]] = field(default_factory=dict)

    @property
    def ranked(self) -> list[tuple[str, MeanCI]]:
        return sorted(self.means.items(), key=lambda item: (-item[1].mean, item[0]))


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def mean_ci(values: Sequence[float], images: int | None = None) -> MeanCI:
    """Mean of ``values`` with a 95% Student-t interval (none for a single value)."""
    if not values:
        raise ValueError("no values to average")
    arr = np.asarray(values, dtype=float)
    n = len(arr)
    mean = float(arr.mean())
    count = n if images is None else images
    if n < 2:
        return MeanCI(mean, None, None, n, count)
    half = t_quantile(n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    return MeanCI(mean, mean - half, mean + half, n, count)


def prompt_means(scores: Iterable[ImageScore]) -> dict[str, dict[str, tuple[float, int]]]:
    """``{generator: {prompt: (mean over its images, images)}}``; non-finite values are left out."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in scores:
        if math.isfinite(s.value):
            sums[s.generator][s.prompt].append(s.value)
    return {
        g: {p: (math.fsum(v) / len(v), len(v)) for p, v in by_prompt.items()} for g, by_prompt in sums.items()
    }


def generator_means(
    per_prompt: Mapping[str, Mapping[str, tuple[float, int]]], prompts: Iterable[str] | None = None
) -> dict[str, MeanCI]:
    """Each generator's mean over prompts of its per-prompt means (only ``prompts`` when given)."""
    keep = None if prompts is None else set(prompts)
    out = {}
    for generator, by_prompt in per_prompt.items():
        chosen = [(m, k) for p, (m, k) in by_prompt.items() if keep is None or p in keep]
        if chosen:
            out[generator] = mean_ci([m for m, _ in chosen], sum(k for _, k in chosen))
    return out


def prompt_battles(per_prompt: Mapping[str, Mapping[str, tuple[float, int]]]) -> Battles:
    """One battle per prompt and pair of generators that both answered it: the higher mean wins."""
    generators = sorted(per_prompt)
    a: list[str] = []
    b: list[str] = []
    winner: list[str] = []
    for left, right in combinations(generators, 2):
        shared = per_prompt[left].keys() & per_prompt[right].keys()
        for prompt in sorted(shared):
            x, y = per_prompt[left][prompt][0], per_prompt[right][prompt][0]
            a.append(left)
            b.append(right)
            if abs(x - y) <= TIE_TOLERANCE:
                winner.append(Outcome.TIE.value)
            else:
                winner.append(Outcome.MODEL_A.value if x > y else Outcome.MODEL_B.value)
    if not a:
        return Battles.empty(generators)
    return Battles.from_records(a, b, winner)


def scorer_board(
    scorer: str, scores: Iterable[ImageScore], categories: Mapping[str, str] | None = None
) -> ScorerBoard:
    """The leaderboard of one scorer's image scores; ``categories`` maps a prompt to its category."""
    per_prompt = prompt_means(scores)
    means = generator_means(per_prompt)
    battles = prompt_battles(per_prompt)
    bt = leaderboard(battles, RatingMethod.BT, prior_sd=PRIOR_SD) if len(battles) else []
    by_category: dict[str, dict[str, MeanCI]] = {}
    if categories:
        groups: dict[str, set[str]] = defaultdict(set)
        for by_prompt in per_prompt.values():
            for prompt in by_prompt:
                groups[categories.get(prompt) or NO_CATEGORY].add(prompt)
        for category in sorted(groups):
            by_category[category] = generator_means(per_prompt, groups[category])
    return ScorerBoard(scorer, means, bt, by_category)
