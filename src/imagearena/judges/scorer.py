"""A scorer, or an ensemble of scorers, as a judge: the image it scores higher wins, equal scores tie.

Stored scores are used where the image has them (every member's, for an ensemble), so judging a
study that ``imagearena score`` already scored loads no model; otherwise the scorer is built once, on
first need, and scores the round's images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imagearena.generators.config import GeneratorConfig
from imagearena.judges import JudgeImage, Verdict, competition_ranks


class ScorerJudge:
    """``model`` is the scorer spec (``clip``, ``imagereward,clip``, ``imagereward=0.7,clip=0.3``); it
    defaults to the entry's name."""

    OPTIONS = frozenset({"normalize"})

    def __init__(self, config: GeneratorConfig) -> None:
        from imagearena.scorers.ensemble import parse_spec

        self.name = config.name
        self.spec = config.model or config.name
        self.members = [name for name, _ in parse_spec(self.spec)]
        self.normalize = str(config.options.get("normalize", "auto"))
        self._scorer: Any = None

    def __repr__(self) -> str:
        return f"ScorerJudge(name={self.name!r}, spec={self.spec!r})"

    def _built(self) -> Any:
        if self._scorer is None:
            from imagearena.scorers.ensemble import build_scorer

            self._scorer = build_scorer(self.spec, normalize=self.normalize)
        return self._scorer

    def scores(self, prompt: str, images: Sequence[JudgeImage]) -> list[float]:
        if all(all(m in image.scores for m in self.members) for image in images):
            if len(self.members) == 1 and self._is_single():
                return [float(image.scores[self.members[0]]) for image in images]
            combine = getattr(self._built(), "combine", None)
            if combine is not None:
                components = {m: [float(image.scores[m]) for image in images] for m in self.members}
                return [float(v) for v in combine(components)]
        from imagearena.media import decode_image

        pictures = [decode_image(image.load()) for image in images]
        return [float(v) for v in self._built().score([prompt] * len(pictures), pictures)]

    def _is_single(self) -> bool:
        return "=" not in self.spec and "," not in self.spec

    def judge(self, prompt: str, images: Sequence[JudgeImage]) -> Verdict:
        values = self.scores(prompt, images)
        return Verdict(competition_ranks(values), "scores " + ", ".join(f"{v:.4g}" for v in values))
