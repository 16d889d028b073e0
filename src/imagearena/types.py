"""Plain data shared by every layer: the one vocabulary (outcomes, rating methods, study kinds, round
types, limits) and the Protocols of every pluggable part. Standard library only, so any module may
import it; database constraints, request models and CLI choices derive from it instead of spelling it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:  # PIL is a dependency of the package, but types.py stays import-free.
    from PIL.Image import Image


class Outcome(StrEnum):
    """Result of one battle, named as in the public arena battle logs: model_a (the left image) wins,
    model_b (the right image) wins, tie, or both_bad."""

    # The order is part of the contract: a member's position is its integer code in the ratings.
    MODEL_A = "model_a"
    MODEL_B = "model_b"
    TIE = "tie"
    BOTH_BAD = "both_bad"

    @property
    def is_draw(self) -> bool:
        return self in (Outcome.TIE, Outcome.BOTH_BAD)

    @property
    def code(self) -> int:
        """0 (model_a), 1 (model_b), 2 (tie) or 3 (both_bad): the position in this enum."""
        return type(self)._member_names_.index(self.name)

    @classmethod
    def from_code(cls, code: int) -> Outcome:
        """The outcome stored as ``code`` (see :attr:`code`)."""
        return list(cls)[code]


class RatingMethod(StrEnum):
    """The leaderboard's rating methods, by the name the API, the CLI and the pages use."""

    ELO = "elo"
    TRUESKILL = "trueskill"
    BT = "bt"

    @property
    def label(self) -> str:
        """How pages and reports title the method ("Bradley-Terry" for ``bt``)."""
        return _METHOD_LABELS[self]


_METHOD_LABELS = {
    RatingMethod.ELO: "Elo",
    RatingMethod.TRUESKILL: "TrueSkill",
    RatingMethod.BT: "Bradley-Terry",
}


class StudyKind(StrEnum):
    """Where a study's images come from."""

    LIVE = "live"
    BULK = "bulk"
    AB = "ab"
    FOLDER = "folder"
    DEMO = "demo"


class RoundType(StrEnum):
    """What one round shows: two images, or four to pick the best of or to order."""

    PAIR = "pair"
    BEST4 = "best4"
    ORDER4 = "order4"


#: Default limits on one image a user sends (settings override them): 50 MiB encoded, 64 Mpx decoded.
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_IMAGE_PIXELS = 64 * 1024 * 1024

#: Elo points per factor of 10 in the odds: P(i beats j) = 1 / (1 + 10 ** ((r_j - r_i) / ELO_SCALE)).
ELO_SCALE = 400.0
#: Elo points per natural-log odds unit (400 / ln 10), and its inverse.
ELO_PER_LOGIT = ELO_SCALE / math.log(10.0)
LOGIT_PER_ELO = math.log(10.0) / ELO_SCALE


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
class StreamingScorer(Scorer, Protocol):
    """A scorer whose per-image preprocessing can run apart from the model: the streaming decoder calls
    ``prepare_image`` in its threads and passes what it returns to ``score`` in place of the image."""

    def prepare_image(self, image: Image) -> object: ...


@runtime_checkable
class CombiningScorer(Scorer, Protocol):
    """A scorer made of members (an ensemble): it reports each member's scores, and its own score is a
    combination that may need the whole run (batch z-scores, ranks)."""

    @property
    def weights(self) -> Mapping[str, float]:
        """Each member's weight in the combination."""
        ...

    @property
    def normalize(self) -> str:
        """How members are put on one scale before weighting: reference, batch or rank."""
        ...

    def score_components(self, prompts: Sequence[str], images: Sequence[Image]) -> dict[str, list[float]]: ...

    def combine(self, components: Mapping[str, Sequence[float]]) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What to make: ``n`` images of ``prompt``, image k of n with seed ``seed + k``. A parameter left
    None takes the generator entry's configured value, else the backend's own default."""

    prompt: str
    seed: int
    n: int = 1
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image as the backend sent it (encoded PNG/JPEG/WEBP bytes, decoded later through the one safe
    decoder in imagearena.media), the seed it used when the backend takes or reports one, and the
    parameters it actually used (model, width, height, steps, guidance, ...), for the image's record."""

    data: bytes
    seed: int | None
    params: Mapping[str, object]


@runtime_checkable
class Generator(Protocol):
    """Turns a request into images; the same (prompt, seed, parameters) gives the same images where the
    backend allows. Errors are ImageArenaError subclasses with a one-line message (bad credentials,
    unknown model, a refused prompt, an unreachable service)."""

    name: str

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]: ...


@runtime_checkable
class CheckableGenerator(Generator, Protocol):
    """A generator that can tell, without generating, whether its backend answers (a model list, a
    health route, a local file): ``imagearena generators --check`` calls it. Returns a short line saying
    what was checked; raises the generator's one-line ImageArenaError when the check fails."""

    def check(self) -> str: ...


#: The columnar battles type of the ratings package; a parameter here so this module imports nothing.
BattlesT_contra = TypeVar("BattlesT_contra", contravariant=True)
OptionsT_contra = TypeVar("OptionsT_contra", contravariant=True)


@runtime_checkable
class Sampler(Protocol[BattlesT_contra]):
    """Chooses the next pair or group to show and learns from votes. Stateful and not thread-safe: a
    server keeps one per study behind a lock."""

    def add_model(self, name: str) -> None: ...

    def observe(self, model_a: str, model_b: str, winner: str) -> None: ...

    def observe_round(self, models: Sequence[str], ranks: Sequence[int], round_type: RoundType) -> None:
        """A round's result: ``models`` in display order, their ranks (1 = best, equal ranks tie)."""
        ...

    def observe_battles(self, battles: BattlesT_contra) -> None: ...

    def next_pair(self) -> tuple[str, str]: ...

    def next_group(self, size: int, round_type: RoundType | str | None = None) -> tuple[str, ...]:
        """``size`` distinct names in display order (size <= number of names; size 2 is a pair), for a
        round of ``round_type`` when given."""
        ...

    def pair_probability(self, model_a: str, model_b: str) -> float:
        """Chance that the next call serves this pair in either order: the propensity for weighting."""
        ...


@runtime_checkable
class RatingFit(Protocol[BattlesT_contra, OptionsT_contra]):
    """A rating method: fits battles into one leaderboard row per model, best first."""

    def fit(self, battles: BattlesT_contra, options: OptionsT_contra) -> list[RatingRow]: ...
