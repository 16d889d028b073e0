"""The ImageReward paper's CLIP baseline: the raw cosine of OpenAI CLIP ViT-L/14's image and text
embeddings (range -1 to 1, no x100, no clamp), as ImageReward's ``CLIPScore`` computes it.

The reference embeds with the ``clip`` package, so the pixels are its torchvision transform
(short side to 224, centre crop, RGB last), not transformers' processor; the weights are the same
checkpoint in transformers' format (``openai/clip-vit-large-patch14``) and the text is truncated
to 77 tokens as ``clip.tokenize(truncate=True)`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from imagearena.scorers.clip_score import ClipScore

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image


class ClipCosine(ClipScore):
    name = "clip-cosine"  # its sources: imagearena.scorers.pretrained

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        return self._cosine(prompts, images)
