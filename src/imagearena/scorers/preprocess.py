"""CLIP-style image preprocessing with PIL and numpy, equal to the torchvision pipelines scorers were trained with.

The reference scorers (ImageReward, CLIP, open_clip) use torchvision's ``Resize(n, BICUBIC)``,
``CenterCrop(n)``, ``ToTensor()``, ``Normalize(mean, std)``. torchvision is not importable everywhere, and on a
PIL image those transforms are plain PIL calls plus arithmetic, so they are reproduced here step for step
(same size rounding, same crop offsets, float32 arithmetic in the same order) to give the same pixels.
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
    convert_first: bool = False,
) -> np.ndarray:
    """Resize short side (bicubic), centre crop, RGB, normalise -> float32 array (3, size, size).

    The reference CLIP/ImageReward pipelines convert to RGB *after* resizing and cropping, which changes
    pixels for RGBA and palette images; ``convert_first=True`` gives the Hugging Face processors' order.
    """
    img = load_image(image)
    if convert_first:
        img = img.convert("RGB")
    img = center_crop(resize_short_side(img, size), size)
    return normalize(img.convert("RGB"), mean, std)
