"""Plain data shared by every layer. Standard library only, so any module may import it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # PIL is a dependency of the package, but types.py stays import-free.
    from PIL.Image import Image


class Outcome(StrEnum):
    """Result of one battle, named as in the public arena battle logs (model_a is the left image)."""

    MODEL_A = "model_a"
    MODEL_B = "model_b"
    TIE = "tie"
    BOTH_BAD = "both_bad"

    @property
    def is_draw(self) -> bool:
        return self in (Outcome.TIE, Outcome.BOTH_BAD)


@dataclass(frozen=True, slots=True)
class Battle:
    """One pairwise judgement: the unit every rating method consumes."""

    model_a: str
    model_b: str
    winner: Outcome
    tstamp: float | None = None
    judge: str | None = None


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One leaderboard line, the same fields for every method and every output format."""

    model: str
    rating: float
    lower: float | None
    upper: float | None
    votes: int
    wins: int
    losses: int
    ties: int
    rank: int


@runtime_checkable
class Scorer(Protocol):
    """Automatic preference score for aligned (prompt, image) pairs: higher is better."""

    name: str

    def score(self, prompts: Sequence[str], images: Sequence[Image]) -> list[float]: ...


@runtime_checkable
class Generator(Protocol):
    """Makes one image for a prompt; the same (prompt, seed) gives the same image where the backend allows."""

    name: str

    def generate(self, prompt: str, seed: int) -> Image: ...
