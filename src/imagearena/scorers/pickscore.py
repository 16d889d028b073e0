"""PickScore: a CLIP-H fine-tuned on Pick-a-Pic preferences; the score is the logit-scaled cosine
``logit_scale.exp() * cos(image, text)``, as in the PickScore reference code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from imagearena.scorers.clip_score import ClipScore

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image


class PickScore(ClipScore):
    name = "pickscore"  # its sources: imagearena.scorers.pretrained

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(self.model.logit_scale.detach().float().exp())

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        return self.scale * self._cosine(prompts, images)
