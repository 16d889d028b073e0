"""Ensembles ("mixture of experts"): a weighted combination of scorers.

Raw scales differ by 100x (CLIP score ~30, HPSv2 ~0.3, ImageReward ~N(0, 1)), so each member is
normalised before weighting:

- ``reference``: z-score against reference statistics (shipped in ``reference_stats.json`` for
  scorers whose statistics are documented, or a user file): comparable across runs.
- ``batch``: z-score against the run's own mean and std: needs no statistics, but a score is only
  comparable within the run.
- ``rank``: each member's percentile rank within the run (0 worst, 1 best), then averaged.
- ``auto`` (default): ``reference`` when every member has statistics, else ``batch``.

The component (raw) scores are always reported next to the combined one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image

NORMALIZATIONS = ("auto", "reference", "batch", "rank")


def load_reference_stats(path: str | Path | None = None) -> dict[str, tuple[float, float]]:
    """``{scorer: (mean, std)}``: the shipped statistics, updated from ``path`` when given."""
    text = resources.files("imagearena.scorers").joinpath("reference_stats.json").read_text()
    stats = _parse_stats(json.loads(text))
    if path is not None:
        try:
            stats.update(_parse_stats(json.loads(Path(path).read_text())))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read reference statistics {path}: {exc}") from exc
    return stats


def _parse_stats(data: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    out = {}
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        try:
            mean, std = float(entry["mean"]), float(entry["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"reference statistics for {name!r} need numeric 'mean' and 'std'") from exc
        if not std > 0:
            raise InputError(f"reference std for {name!r} must be positive")
        out[name] = (mean, std)
    return out


def parse_spec(spec: str, weights: str | Sequence[float] | None = None) -> list[tuple[str, float]]:
    """``"imagereward,clip"`` + ``"0.7,0.3"`` or ``"imagereward=0.7,clip=0.3"`` -> [(name, weight)].

    Without weights every member weighs the same. Weights must be non-negative and not all zero.
    """
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise InputError("no scorer named: pass --scorer NAME[,NAME...]")
    names, inline = [], []
    for part in parts:
        name, sep, value = part.partition("=")
        names.append(name.strip())
        inline.append(_weight(value, name) if sep else None)
    if len(set(names)) != len(names):
        raise InputError(f"a scorer is named twice in {spec!r}")
    if weights is not None:
        if any(w is not None for w in inline):
            raise InputError("give weights either inline (name=weight) or with --ensemble-weights, not both")
        values = [_weight(w, "weight") for w in (weights.split(",") if isinstance(weights, str) else weights)]
        if len(values) != len(names):
            raise InputError(f"{len(values)} ensemble weights for {len(names)} scorers: give one per scorer")
    elif any(w is not None for w in inline):
        if any(w is None for w in inline):
            raise InputError("give a weight to every scorer (name=weight) or to none")
        values = [float(w) for w in inline]  # type: ignore[arg-type]
    else:
        values = [1.0] * len(names)
    if sum(values) <= 0:
        raise InputError("ensemble weights must not all be zero")
    return list(zip(names, values, strict=True))


def _weight(value: Any, what: str) -> float:
    try:
        w = float(value)
    except (TypeError, ValueError):
        raise InputError(f"weight for {what!r} is not a number: {value!r}") from None
    if not (w >= 0 and math.isfinite(w)):
        raise InputError(f"weight for {what!r} must be a finite number >= 0, got {value!r}")
    return w


def zscores(values: Sequence[float], mean: float | None = None, std: float | None = None) -> list[float]:
    n = len(values)
    if mean is None or std is None:
        mean = sum(values) / n if n else 0.0
        var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
        std = math.sqrt(var)
    if std == 0:
        return [0.0] * n
    return [(v - mean) / std for v in values]


def percentile_ranks(values: Sequence[float]) -> list[float]:
    """0 for the lowest, 1 for the highest, ties share their average rank; a single value is 0.5."""
    n = len(values)
    if n == 1:
        return [0.5]
    order = sorted(range(n), key=lambda i: values[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 / (n - 1)
        i = j + 1
    return ranks


class Ensemble:
    """A weighted combination of member scorers, each normalised first (see the module docstring)."""

    def __init__(
        self,
        members: Mapping[str, Any],
        weights: Sequence[float] | None = None,
        normalize: str = "auto",
        stats: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        if not members:
            raise InputError("an ensemble needs at least one scorer")
        if normalize not in NORMALIZATIONS:
            raise InputError(f"unknown normalisation {normalize!r}: use one of {', '.join(NORMALIZATIONS)}")
        self.members = dict(members)
        weights = list(weights) if weights is not None else [1.0] * len(self.members)
        if len(weights) != len(self.members):
            raise InputError(f"{len(weights)} weights for {len(self.members)} scorers")
        total = float(sum(weights))
        if total <= 0:
            raise InputError("ensemble weights must not all be zero")
        self.weights = {name: w / total for name, w in zip(self.members, weights, strict=True)}
        self.stats = dict(stats) if stats is not None else load_reference_stats()
        if normalize == "auto":
            normalize = "reference" if all(n in self.stats for n in self.members) else "batch"
        if normalize == "reference":
            missing = [n for n in self.members if n not in self.stats]
            if missing:
                raise InputError(
                    f"no reference statistics for {', '.join(missing)}: pass --reference-stats FILE, "
                    "or use --normalize batch or rank"
                )
        self.normalize = normalize
        self.name = "ensemble(" + ",".join(f"{n}={w:g}" for n, w in self.weights.items()) + ")"

    def score_components(
        self, prompts: str | Sequence[str], images: Sequence[Image]
    ) -> dict[str, list[float]]:
        return {name: list(scorer.score(prompts, images)) for name, scorer in self.members.items()}

    def combine(self, components: Mapping[str, Sequence[float]]) -> list[float]:
        """The weighted sum of normalised components; call it on the whole run for batch/rank."""
        normalised = {}
        for name, values in components.items():
            if self.normalize == "rank":
                normalised[name] = percentile_ranks(values)
            elif self.normalize == "batch":
                normalised[name] = zscores(values)
            else:
                normalised[name] = zscores(values, *self.stats[name])
        n = len(next(iter(components.values())))
        return [sum(self.weights[name] * normalised[name][i] for name in self.members) for i in range(n)]

    def score(self, prompts: str | Sequence[str], images: Sequence[Image]) -> list[float]:
        return self.combine(self.score_components(prompts, images))


def build_scorer(
    spec: str,
    *,
    ensemble_weights: str | Sequence[float] | None = None,
    normalize: str = "auto",
    reference_stats: str | Path | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    **common: Any,
) -> Any:
    """One scorer for ``"clip"``, an ``Ensemble`` for ``"imagereward,clip"`` or ``"imagereward=0.7,clip=0.3"``.

    ``common`` keyword arguments (device, batch_size...) go to every member; ``options[name]`` to one.
    """
    from imagearena.scorers import create_scorer

    members = parse_spec(spec, ensemble_weights)
    options = options or {}
    unknown = set(options) - {name for name, _ in members}
    if unknown:
        raise InputError(f"options given for {', '.join(sorted(unknown))}, which is not among the scorers")
    built = {name: create_scorer(name, **common, **dict(options.get(name, {}))) for name, _ in members}
    if len(members) == 1 and ensemble_weights is None and "=" not in spec:
        return built[members[0][0]]
    stats = load_reference_stats(reference_stats)
    return Ensemble(built, [w for _, w in members], normalize=normalize, stats=stats)
