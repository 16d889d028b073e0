"""Automatic judges: something other than a person that decides a round the arena served.

A judge sees a prompt and the round's images in display order (two for a pair, four for a four-image
round) and answers ranks in that order (1 = best, equal ranks tie) with an optional rationale. Backends
register in the ``imagearena.judges`` entry point group and are built as ``Factory(config)`` from a
``[judges.<name>]`` table of a judges file (imagearena.judges.config); a scorer or an ensemble of
scorers is a judge without any file (imagearena.judges.scorer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from imagearena.errors import InputError
from imagearena.registry import Registry
from imagearena.types import Outcome


@dataclass(frozen=True, slots=True)
class JudgeImage:
    """One image of a round as a judge may look at it: ``load()`` reads its encoded bytes (only a judge
    that looks at pixels calls it) and ``scores`` holds its stored scores by scorer name."""

    load: Callable[[], bytes]
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Ranks in display order (1 = best, equal ranks tie) and why, when the judge says."""

    ranks: tuple[int, ...]
    rationale: str = ""

    @property
    def winner(self) -> Outcome:
        """A pair's outcome: MODEL_A when the left image ranks first, MODEL_B the right, else TIE."""
        if len(self.ranks) != 2:
            raise InputError(f"a pair verdict has 2 ranks, not {len(self.ranks)}")
        left, right = self.ranks
        return Outcome.MODEL_A if left < right else Outcome.MODEL_B if right < left else Outcome.TIE


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, prompt: str, images: Sequence[JudgeImage]) -> Verdict: ...


judges: Registry[Judge] = Registry("judge", "imagearena.judges")
# The built-ins are also registered here (as pyproject's entry points name them), so they resolve in an
# install whose metadata predates them.
judges.register("scorer", "imagearena.judges.scorer:ScorerJudge")
judges.register("openai-vlm", "imagearena.judges.vlm:OpenAIVLMJudge")


def competition_ranks(values: Sequence[float]) -> tuple[int, ...]:
    """Ranks of ``values`` where higher is better, equal values sharing the best rank (1, 2, 2, 4)."""
    return tuple(1 + sum(1 for other in values if other > v) for v in values)
