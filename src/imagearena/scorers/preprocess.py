"""CLIP-style image preprocessing with PIL and numpy, equal pixel for pixel to the two reference pipelines.

Scorers meet two references. ImageReward, the aesthetic predictor and the openai ``clip`` package use
torchvision's ``Resize(n, BICUBIC)``, ``CenterCrop(n)``, RGB, ``ToTensor()``, ``Normalize(mean, std)``
(:func:`clip_preprocess`). CLIP score, PickScore and BLIP use a transformers image processor
(:func:`hf_preprocess`), which differs in three places: transparency is composited onto white before
anything else, the crop offsets round down where torchvision's round half to even (one pixel apart when
the resized side minus the crop is 3 mod 4, as SDXL's 832x1216), and the rescale is done in float64. Neither
library is needed: on a PIL image both are plain PIL calls plus arithmetic, reproduced here step for step.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from imagearena.errors import InputError
from imagearena.media import ImageRejected, Limits, read_image
from imagearena.scorers.pretrained import CLIP_MEAN, CLIP_STD

ImageInput = str | os.PathLike[str] | Image.Image


def load_image(image: ImageInput, limits: Limits = Limits()) -> Image.Image:
    """A PIL image from a path (read by imagearena.media, the package's one decoder, under ``limits``)
    or a PIL image; an unreadable file is an InputError naming it."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        try:
            return read_image(path, limits)
        except FileNotFoundError:
            raise InputError(f"image not found: {path}") from None
        except (ImageRejected, OSError) as exc:
            raise InputError(f"cannot read image {path}: {exc}") from None
    raise InputError(f"expected an image path or a PIL image, got {type(image).__name__}")


def resize_short_side(image: Image.Image, size: int, resample: int = Image.Resampling.BICUBIC) -> Image.Image:
    """Scale so the shorter side is ``size``; the longer side is truncated like torchvision's ``Resize(int)``."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    if short == size:
        return image
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    return image.resize((new_w, new_h), resample)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """Central ``size`` x ``size`` crop with torchvision's rounding of the offsets (zero padding if smaller)."""
    width, height = image.size
    if width < size or height < size:
        padded = Image.new(image.mode, (max(width, size), max(height, size)))
        padded.paste(image, (max(size - width, 0) // 2, max(size - height, 0) // 2))
        image = padded
        width, height = image.size
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def normalize(image: Image.Image, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB image -> float32 array (3, H, W): ``(pixel / 255 - mean) / std`` in float32, as ToTensor+Normalize."""
    arr = np.asarray(image, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"expected an RGB image, got mode {image.mode}")
    x = arr.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    return (x - m) / s


def clip_preprocess(
    image: ImageInput,
    size: int = 224,
    mean: Sequence[float] = CLIP_MEAN,
    std: Sequence[float] = CLIP_STD,
    resample: int = Image.Resampling.BICUBIC,
) -> np.ndarray:
    """The torchvision pipeline (0.15 and later, on PIL images): short side to ``size``, centre crop,
    ``convert("RGB")`` after both, ToTensor, Normalize -> float32 array (3, size, size)."""
    img = center_crop(resize_short_side(load_image(image), size, resample), size)
    return normalize(img.convert("RGB"), mean, std)


def to_rgb_on_white(image: Image.Image) -> Image.Image:
    """RGB as transformers' image processors convert (``image_transforms.convert_to_rgb``, 5.x): an image
    with an alpha band or a transparency key is composited onto white first; any other mode is a
    plain ``convert("RGB")``. The torchvision pipelines instead call ``convert("RGB")``, which drops
    alpha and keeps the colour under transparent pixels."""
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def hf_center_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    """Central ``size`` x ``size`` crop of an (H, W, C) array as transformers' ``center_crop``: the
    offsets round down (torchvision's round half to even), and a side shorter than ``size`` is
    zero-padded with the odd pixel on the leading side."""
    height, width = pixels.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    if top >= 0 and left >= 0:
        return pixels[top : top + size, left : left + size]
    out_h, out_w = max(size, height), max(size, width)
    pad_top, pad_left = -(-(out_h - height) // 2), -(-(out_w - width) // 2)
    padded = np.zeros((out_h, out_w, *pixels.shape[2:]), dtype=pixels.dtype)
    padded[pad_top : pad_top + height, pad_left : pad_left + width] = pixels
    top, left = top + pad_top, left + pad_left
    return padded[max(0, top) : top + size, max(0, left) : left + size]


def hf_preprocess(
    image: ImageInput,
    size: int = 224,
    mean: Sequence[float] = CLIP_MEAN,
    std: Sequence[float] = CLIP_STD,
    *,
    crop: bool = True,
    resize: int | None = None,
    resample: int = Image.Resampling.BICUBIC,
    rescale: float = 1 / 255,
) -> np.ndarray:
    """transformers' PIL image processors (``CLIPImageProcessorPil``, ``BlipImageProcessorPil``, 5.x)
    step for step -> float32 array (3, size, size).

    RGB on white first; with ``crop`` the short side is resized to ``resize`` (default ``size``; a
    checkpoint's ``size.shortest_edge``, which may differ from its crop size) with the long side
    truncated, then centre-cropped with offsets rounded down; without, resized straight to a square.
    Then ``pixels * rescale`` in float64 cast to float32, and ``(x - mean) / std`` in float32."""
    img = to_rgb_on_white(load_image(image))
    if crop:
        img = resize_short_side(img, size if resize is None else resize, resample)
        pixels = hf_center_crop(np.asarray(img, dtype=np.uint8), size)
    else:
        if img.size != (size, size):
            img = img.resize((size, size), resample)
        pixels = np.asarray(img, dtype=np.uint8)
    x = (pixels.astype(np.float64) * rescale).astype(np.float32).transpose(2, 0, 1)
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    out: np.ndarray = (x - m) / s
    return out
