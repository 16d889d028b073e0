"""Shared parts of the CLIP-family scorers (CLIP score, PickScore, aesthetic, HPSv2): loading a
transformers CLIP model with its tokenizer, the image preprocessing its checkpoint expects, and
normalised embeddings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError
from imagearena.scorers.base import TorchScorer
from imagearena.scorers.sources import from_pretrained, hub_file

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL.Image import Image

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ImageSpec:
    """How a checkpoint wants its pixels: side length, crop mode and normalisation.

    ``crop=True`` is CLIP's bicubic short-side resize then centre crop; ``crop=False`` resizes
    straight to a square (BLIP). ``tensor_resize=True`` resizes the float tensor instead of the PIL
    image, as open_clip's HPSv2 transform does (ToTensor before Resize); with ``pad_longest`` the
    longest side is resized and the rest zero-padded instead of cropped (HPSv2's ResizeMaxSize).
    ``convert_first`` converts to RGB before resizing as transformers' processors do; the
    torchvision pipelines convert last."""

    size: int = 224
    crop: bool = True
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    tensor_resize: bool = False
    convert_first: bool = True
    pad_longest: bool = False

    @classmethod
    def from_pretrained_dir(
        cls, source: str, *, default_size: int = 224, crop: bool = True, convert_first: bool = True
    ) -> ImageSpec:
        """Read ``preprocessor_config.json`` next to the weights (local folder or hub cache) when present."""
        config = _read_preprocessor_config(source)
        if not config:
            return cls(size=default_size, crop=crop, convert_first=convert_first)
        size = config.get("crop_size") if crop else config.get("size")
        if size is None:
            size = config.get("size", default_size)
        if isinstance(size, dict):
            size = size.get("shortest_edge") or size.get("height") or default_size
        return cls(
            size=int(size),
            crop=crop,
            mean=tuple(config.get("image_mean", OPENAI_MEAN)),  # type: ignore[arg-type]
            std=tuple(config.get("image_std", OPENAI_STD)),  # type: ignore[arg-type]
            convert_first=convert_first,
        )


def _read_preprocessor_config(source: str) -> dict[str, Any]:
    path = Path(source)
    if path.is_dir():
        file = path / "preprocessor_config.json"
        return json.loads(file.read_text()) if file.is_file() else {}
    try:
        file = hub_file(source, "preprocessor_config.json")
    except InputError:  # absent from the repo, or from the cache offline: the CLIP defaults
        return {}
    return json.loads(file.read_text())


def pil_pixels(image: Image, spec: ImageSpec) -> np.ndarray:
    """One image as a normalised float32 CHW array, resizing the PIL image (CLIP, BLIP)."""
    from PIL import Image as PILImage

    from imagearena.scorers.preprocess import clip_preprocess, normalize

    if spec.crop:
        return clip_preprocess(image, spec.size, spec.mean, spec.std, convert_first=spec.convert_first)
    image = image.convert("RGB")
    if image.size != (spec.size, spec.size):
        image = image.resize((spec.size, spec.size), PILImage.Resampling.BICUBIC)
    return normalize(image, spec.mean, spec.std)


def tensor_pixels(image: Image, spec: ImageSpec) -> torch.Tensor:
    """One image the open_clip way: to a [0, 1] tensor first, then a bicubic antialiased resize of
    the float tensor (no clamping, as torchvision's Resize on tensors), then either a centre crop or,
    with ``pad_longest``, HPSv2's ResizeMaxSize (longest side to ``size``, zero-padded to a square
    before normalising). HPSv2's scores depend on this order."""
    import numpy as np
    import torch

    size = spec.size
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255)
    x = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    height, width = x.shape[-2:]
    if spec.pad_longest:
        scale = size / float(max(height, width))
        out_hw = (round(height * scale), round(width * scale))  # Python rounding, as ResizeMaxSize
    else:
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(size * long / short)
        out_hw = (new_long, size) if width <= height else (size, new_long)
    if out_hw != (height, width):
        x = torch.nn.functional.interpolate(
            x, size=out_hw, mode="bicubic", align_corners=False, antialias=True
        )
    height, width = x.shape[-2:]
    if spec.pad_longest:
        # the original pads only when it resized; an image whose long side already fits is padded
        # here too, since the model needs a square input either way
        left, top = (size - width) // 2, (size - height) // 2
        x = torch.nn.functional.pad(x, (left, size - width - left, top, size - height - top), value=0.0)
    else:
        top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
        x = x[..., top : top + size, left : left + size]
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return ((x - mean) / std)[0]


@dataclass(frozen=True, slots=True)
class Pixels:
    """An image already preprocessed for ``spec``: made by ``prepare_image`` in a decoder thread, so
    resizing and normalising overlap the model too, not only decoding."""

    spec: ImageSpec
    array: Any  # float32 CHW numpy array or tensor


def one_image(image: Image | Pixels, spec: ImageSpec) -> Any:
    if isinstance(image, Pixels) and image.spec == spec:
        return image.array
    if isinstance(image, Pixels):
        raise TypeError("image was prepared for another scorer's preprocessing")
    return tensor_pixels(image, spec) if spec.tensor_resize else pil_pixels(image, spec)


def pixel_batch(
    images: Sequence[Image | Pixels], spec: ImageSpec, device: str, dtype: torch.dtype
) -> torch.Tensor:
    import torch

    batch = torch.stack([torch.as_tensor(one_image(im, spec)) for im in images])
    return batch.to(device=device, dtype=dtype)


class PixelScorer(TorchScorer):
    """A torch scorer whose whole image input is ``pixel_batch(images, self.spec, ...)``: it can
    preprocess images ahead of time, off the model's thread."""

    spec: ImageSpec

    def prepare_image(self, image: Image) -> Pixels:
        return Pixels(self.spec, one_image(image, self.spec))


def load_tokenizer(source: str) -> Any:
    from transformers import AutoTokenizer

    return from_pretrained(AutoTokenizer, source)


def load_clip(source: str, device: str, dtype: torch.dtype) -> Any:
    from transformers import CLIPModel

    model = from_pretrained(CLIPModel, source, dtype=dtype)
    return model.to(device).eval()


def _pooled(output: Any) -> torch.Tensor:
    """transformers 5 returns an output object from get_*_features, 4.x a tensor."""
    return output if hasattr(output, "norm") else output.pooler_output


def text_embeddings(model: Any, tokenizer: Any, prompts: Sequence[str], device: str) -> torch.Tensor:
    """L2-normalised projected text embeddings, truncated to the model's context length."""
    unique = list(dict.fromkeys(prompts))  # a shared prompt is encoded once per batch
    max_len = model.config.text_config.max_position_embeddings
    tokens = tokenizer(unique, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
    out = model.get_text_features(
        input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
    )
    emb = _pooled(out).float()
    emb = emb / emb.norm(dim=-1, keepdim=True)
    index = {p: i for i, p in enumerate(unique)}
    return emb[[index[p] for p in prompts]]


def image_embeddings(model: Any, pixels: torch.Tensor) -> torch.Tensor:
    """L2-normalised projected image embeddings."""
    emb = _pooled(model.get_image_features(pixel_values=pixels)).float()
    return emb / emb.norm(dim=-1, keepdim=True)
