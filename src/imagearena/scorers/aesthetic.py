"""LAION aesthetic predictor: an MLP head on the normalised CLIP ViT-L/14 image embedding.

The head is the improved-aesthetic-predictor one (``sac+logos+ava1-l14-linearMSE.pth``): Linear
layers at ``layers.0/2/4/6/7`` (768-1024-128-64-16-1) with dropouts between and no activation. Its
sizes are read from the state dict, so a smaller head in the same format loads too. The prompt is
ignored: the score rates the image alone (roughly 1 to 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError
from imagearena.scorers.base import pick_device, pick_dtype, require_score_extra
from imagearena.scorers.hf_clip import PixelScorer, image_embeddings, load_clip, pixel_batch, read_image_spec
from imagearena.scorers.pretrained import pretrained
from imagearena.scorers.sources import resolve_source

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image


def build_head(state_dict: dict[str, Any]) -> torch.nn.Sequential:
    """The head's ``nn.Sequential`` rebuilt from its state dict keys; dropout slots are identities
    (inference only), so the original key names load unchanged."""
    import torch

    indices = sorted(
        {int(k.split(".")[1]) for k in state_dict if k.startswith("layers.") and k.endswith(".weight")}
    )
    if not indices:
        raise InputError("not an aesthetic head: expected keys layers.N.weight / layers.N.bias")
    modules: list[torch.nn.Module] = [torch.nn.Identity() for _ in range(indices[-1] + 1)]
    for i in indices:
        out_dim, in_dim = state_dict[f"layers.{i}.weight"].shape
        modules[i] = torch.nn.Linear(in_dim, out_dim)
    head = torch.nn.Sequential()
    head.layers = torch.nn.Sequential(*modules)
    head.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
    return head.layers.eval()


def load_head(source: str, filename: str) -> torch.nn.Sequential:
    import torch

    path = resolve_source(source).file(filename)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return build_head(state)


class AestheticScore(PixelScorer):
    name = "aesthetic"

    def __init__(
        self,
        weights: str | None = None,
        clip: str | None = None,
        tokenizer: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        require_score_extra("the aesthetic scorer")
        import torch

        del tokenizer  # the score does not read the prompt
        source = pretrained(self.name)
        clip = str(clip or source.backbone)
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.batch_size = batch_size
        self.model = load_clip(clip, self.device, self.dtype)
        self.head = load_head(str(weights or source.weights), str(source.weights_file)).to(self.device)
        embed_dim = self.model.config.projection_dim
        in_features = next(m for m in self.head if isinstance(m, torch.nn.Linear)).in_features
        if in_features != embed_dim:
            raise InputError(
                f"the aesthetic head expects {in_features}-d embeddings but the CLIP model "
                f"{clip} gives {embed_dim}-d: use the CLIP it was trained on (ViT-L/14 for the LAION heads)"
            )
        default = replace(source.image, size=int(self.model.config.vision_config.image_size))
        self.spec = read_image_spec(clip, default)

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        emb = image_embeddings(self.model, pixel_batch(images, self.spec, self.device, self.dtype))
        scores: torch.Tensor = self.head(emb).squeeze(-1)
        return scores
