"""Shared parts of the CLIP-family scorers (CLIP score, PickScore, aesthetic, HPSv2) and of every
scorer that preprocesses pixels ahead of the model: loading a transformers CLIP model, the image
preprocessing its checkpoint expects, and normalised embeddings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError
from imagearena.scorers.base import TorchScorer
from imagearena.scorers.preprocess import ImageInput, load_image
from imagearena.scorers.pretrained import TRANSFORMERS, ImageSpec
from imagearena.scorers.sources import resolve_source

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL.Image import Image


def read_image_spec(source: str, default: ImageSpec) -> ImageSpec:
    """``default`` with the sizes, filter, rescale and normalisation of the ``preprocessor_config.json``
    that travels with a transformers checkpoint (local folder or hub cache), when there is one.

    With a crop, the input side is the crop size and the short side is resized to ``size`` first,
    which may be larger (a processor's 256 then 224). A torchvision reference resizes to the crop
    size whatever the config says, as ``Resize(n)`` + ``CenterCrop(n)`` does."""
    config = _read_preprocessor_config(source)
    if not config:
        return default
    resize_side = _side(config.get("size"))
    side = _side(config.get("crop_size")) if default.crop else resize_side
    side = side or resize_side or default.size
    hf = default.reference == TRANSFORMERS
    return replace(
        default,
        size=side,
        resize=resize_side if hf and default.crop and resize_side not in (None, side) else None,
        resample=int(config.get("resample", default.resample)),
        rescale=float(config.get("rescale_factor", default.rescale)),
        mean=tuple(float(v) for v in config.get("image_mean", default.mean)),
        std=tuple(float(v) for v in config.get("image_std", default.std)),
    )


def _side(size: Any) -> int | None:
    """A processor config's ``size`` or ``crop_size`` (an int, or a dict of shortest_edge or height)."""
    if isinstance(size, dict):
        size = size.get("shortest_edge") or size.get("height")
    return int(size) if isinstance(size, int | float) else None


def _read_preprocessor_config(source: str) -> dict[str, Any]:
    try:
        where = resolve_source(source)
        if where.is_local_file:
            return {}
        file = where.file("preprocessor_config.json")
    except InputError:  # absent from the folder or the repo, or from the cache offline: the defaults
        return {}
    config = json.loads(file.read_text())
    return config if isinstance(config, dict) else {}


def pil_pixels(image: Image, spec: ImageSpec) -> np.ndarray:
    """One image as a normalised float32 CHW array, resizing the PIL image the way ``spec.reference``
    does (transformers' processor for CLIP score, PickScore and BLIP; torchvision for ImageReward and
    the aesthetic predictor)."""
    from imagearena.scorers.preprocess import clip_preprocess, hf_preprocess, normalize

    if spec.reference == TRANSFORMERS:
        return hf_preprocess(
            image,
            spec.size,
            spec.mean,
            spec.std,
            crop=spec.crop,
            resize=spec.resize,
            resample=spec.resample,
            rescale=spec.rescale,
        )
    if spec.crop:
        return clip_preprocess(image, spec.size, spec.mean, spec.std, spec.resample)
    if image.size != (spec.size, spec.size):  # torchvision's Resize((n, n)), then RGB
        image = image.resize((spec.size, spec.size), spec.resample)
    return normalize(image.convert("RGB"), spec.mean, spec.std)


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

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> Any:
        return self.array.dtype


def one_image(image: ImageInput | Pixels | np.ndarray, spec: ImageSpec) -> Any:
    """One image as the model's input array: prepared already (by ``prepare_image``, or an array of
    the right shape), else decoded if it is a path and preprocessed for ``spec``."""
    if isinstance(image, Pixels):
        if image.spec != spec:
            raise TypeError("image was prepared for another scorer's preprocessing")
        return image.array
    if hasattr(image, "shape"):
        shape = (3, spec.size, spec.size)
        if tuple(image.shape) != shape:
            raise InputError(f"a prepared image must be a float32 array of shape {shape}, got {image.shape}")
        return image
    if spec.tensor_resize:
        return tensor_pixels(load_image(image), spec)
    return pil_pixels(load_image(image), spec)


def pixel_batch(
    images: Sequence[ImageInput | Pixels | np.ndarray], spec: ImageSpec, device: str, dtype: torch.dtype
) -> torch.Tensor:
    import torch

    batch = torch.stack([torch.as_tensor(one_image(im, spec)) for im in images])
    return batch.to(device=device, dtype=dtype)


class PixelScorer(TorchScorer):
    """A torch scorer whose whole image input is ``pixel_batch(images, self.spec, ...)``: it can
    preprocess images ahead of time, off the model's thread."""

    spec: ImageSpec

    def prepare_image(self, image: ImageInput) -> Pixels:
        return Pixels(self.spec, one_image(image, self.spec))


def load_clip(source: str, device: str, dtype: torch.dtype) -> Any:
    from transformers import CLIPModel

    model = resolve_source(source).load(CLIPModel, dtype=dtype)
    return model.to(device).eval()


def _pooled(output: Any) -> torch.Tensor:
    """transformers 5 returns an output object from get_*_features, 4.x a tensor."""
    pooled: torch.Tensor = output if hasattr(output, "norm") else output.pooler_output
    return pooled


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
    per_prompt: torch.Tensor = emb[[index[p] for p in prompts]]
    return per_prompt


def image_embeddings(model: Any, pixels: torch.Tensor) -> torch.Tensor:
    """L2-normalised projected image embeddings."""
    emb = _pooled(model.get_image_features(pixel_values=pixels)).float()
    normalised: torch.Tensor = emb / emb.norm(dim=-1, keepdim=True)
    return normalised
