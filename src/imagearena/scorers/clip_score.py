"""CLIP score, as torchmetrics defines it: ``max(100 * cos(image, text), 0)`` with any HF CLIP model.

The value is per pair: torchmetrics' ``clip_score`` called on that one (image, text) pair.
(torchmetrics averages a whole batch before clamping; a per-image score is what ranking needs.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from imagearena.scorers.base import pick_device, pick_dtype, require_score_extra
from imagearena.scorers.hf_clip import (
    PixelScorer,
    image_embeddings,
    load_clip,
    pixel_batch,
    read_image_spec,
    text_embeddings,
)
from imagearena.scorers.pretrained import Pretrained, pretrained
from imagearena.scorers.sources import load_tokenizer

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image


class ClipScore(PixelScorer):
    """Any HF CLIP checkpoint; subclasses change the defaults and how the cosine becomes a score."""

    name = "clip"

    def __init__(
        self,
        weights: str | None = None,
        tokenizer: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        require_score_extra(f"the {self.name} scorer")
        source: Pretrained = pretrained(self.name)
        weights = str(weights or source.weights)
        processor = str(tokenizer or source.tokenizer or weights)  # the tokenizer's preprocessor_config
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.batch_size = batch_size
        self.model = load_clip(weights, self.device, self.dtype)
        self.tokenizer = load_tokenizer(processor, source.tokenizer_kind, source.special_tokens)
        default = replace(source.image, size=int(self.model.config.vision_config.image_size))
        self.spec = read_image_spec(processor, default)

    def _cosine(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        img = image_embeddings(self.model, pixel_batch(images, self.spec, self.device, self.dtype))
        txt = text_embeddings(self.model, self.tokenizer, prompts, self.device)
        return (img * txt).sum(dim=-1)

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        return (100.0 * self._cosine(prompts, images)).clamp(min=0)
