"""BLIP score: the image-text contrastive (ITC) cosine of a BLIP retrieval model, as transformers'
``BlipForImageTextRetrieval(..., use_itm_head=False)`` computes it (range -1 to 1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from imagearena.scorers.base import pick_device, pick_dtype, require_score_extra
from imagearena.scorers.hf_clip import PixelScorer, pixel_batch, read_image_spec
from imagearena.scorers.pretrained import pretrained
from imagearena.scorers.sources import load_tokenizer, resolve_source

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image


class BlipScore(PixelScorer):
    name = "blip"

    def __init__(
        self,
        weights: str | None = None,
        tokenizer: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        require_score_extra("the BLIP scorer")
        from transformers import BlipForImageTextRetrieval

        source = pretrained(self.name)
        weights = str(weights or source.weights)
        processor = str(tokenizer or source.tokenizer or weights)
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.batch_size = batch_size
        model = resolve_source(weights).load(BlipForImageTextRetrieval, dtype=self.dtype)
        self.model = model.to(self.device).eval()
        self.tokenizer = load_tokenizer(processor, source.tokenizer_kind, source.special_tokens)
        default = replace(source.image, size=int(self.model.config.vision_config.image_size))
        self.spec = read_image_spec(processor, default)
        self.max_length = min(self.model.config.text_config.max_position_embeddings, 512)

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        import torch

        unique = list(dict.fromkeys(prompts))  # each distinct prompt is encoded once
        tokens = self.tokenizer(
            unique, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        out = self.model(
            input_ids=tokens["input_ids"].to(self.device),
            attention_mask=tokens["attention_mask"].to(self.device),
            pixel_values=pixel_batch(images, self.spec, self.device, self.dtype),
            use_itm_head=False,
        )
        sims: torch.Tensor = out.itm_score.float()  # images x unique prompts
        cols = torch.tensor([unique.index(p) for p in prompts], device=sims.device)
        return sims[torch.arange(len(prompts), device=sims.device), cols]
