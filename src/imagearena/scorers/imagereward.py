"""ImageReward (Xu et al. 2023): a BLIP-based human-preference reward for (prompt, image) pairs.

Loads the official checkpoint format (``ImageReward.pt`` + ``med_config.json``, hub repo THUDM/ImageReward or
a local directory) and gives the original package's scores for the same weights, without timm, fairscale,
torchvision or clip, batched instead of one forward pass per image. Torch and transformers are imported
only when a scorer is built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from imagearena.errors import InputError
from imagearena.scorers.base import align_prompts, pick_device, pick_dtype, require_score_extra
from imagearena.scorers.hf_clip import PixelScorer, pil_pixels, pixel_batch
from imagearena.scorers.preprocess import ImageInput, load_image
from imagearena.scorers.pretrained import Pretrained, pretrained
from imagearena.scorers.sources import load_tokenizer, resolve_source

if TYPE_CHECKING:
    import numpy as np
    import torch

    from imagearena.scorers.imagereward_net import ImageRewardNet

SOURCE: Pretrained = pretrained("imagereward")
MODEL_NAME = "ImageReward-v1.0"  # the original package's name for the released checkpoint
CHECKPOINT_FILE = str(SOURCE.weights_file)
MED_CONFIG_FILE = "med_config.json"
MAX_TEXT_LENGTH = 35
# Reward normalisation of the released model (mean and std of raw rewards on its training prompts).
REWARD_MEAN = 0.16717362830052426
REWARD_STD = 1.0333394966054072
# Where the original package downloads to (its ``download_root`` default); reused so an existing download
# works offline.
ORIGINAL_DOWNLOAD_ROOT = "~/.cache/ImageReward"

PathName = str | os.PathLike[str]


def _with_folder_hint(exc: InputError) -> InputError:
    return InputError(
        f"{exc}; ImageReward also loads from a folder holding {CHECKPOINT_FILE} and {MED_CONFIG_FILE} "
        "(--weights DIR, or weights=DIR in Python)"
    )


def resolve_checkpoint(
    weights: PathName | None = None,
    med_config: PathName | None = None,
    download_root: PathName = ORIGINAL_DOWNLOAD_ROOT,
) -> tuple[Path, Path]:
    """(checkpoint path, med_config path) for a hub repo id (or ``hf-hub:`` name), a local directory or a
    local .pt file, through the one source resolver.

    ``None`` (or the original's name ``ImageReward-v1.0``) means THUDM/ImageReward, taken from
    ``download_root`` (the original package's download folder) when both files are already there, else
    from the hub cache or the hub.
    """
    med = Path(med_config).expanduser() if med_config is not None else None
    if med is not None and not med.is_file():
        raise InputError(f"med_config file not found: {med}")
    name = str(weights) if weights is not None else MODEL_NAME
    if name == MODEL_NAME:
        root = Path(download_root).expanduser()
        local = root / CHECKPOINT_FILE
        if local.is_file() and (med or root / MED_CONFIG_FILE).is_file():
            return local, med or root / MED_CONFIG_FILE
        name = SOURCE.weights
    source = resolve_source(name)
    try:
        checkpoint = source.file(CHECKPOINT_FILE)  # the weights first: they matter most
        if med is not None:
            return checkpoint, med
        if source.is_local_file:  # med_config.json beside the file, else the released one
            beside = checkpoint.parent / MED_CONFIG_FILE
            return checkpoint, beside if beside.is_file() else resolve_source(SOURCE.weights).file(
                MED_CONFIG_FILE
            )
        return checkpoint, source.file(MED_CONFIG_FILE)
    except InputError as exc:
        raise (_with_folder_hint(exc) if source.path is None or source.is_local_file else exc) from None


def _load_state(path: Path) -> dict[str, Any]:
    import torch

    try:
        try:  # memory-mapped: the weights are read once, straight into the modules
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # checkpoints in torch's legacy (pre-zip) format cannot be mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read the ImageReward checkpoint {path}: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"{path} is not an ImageReward state dict")
    return state


class ImageReward(PixelScorer):
    """``score(prompts, images)`` over aligned lists, in batches; in float32 (``dtype="fp32"``, what ``auto``
    picks on a CPU) the same numbers as the original package.

    ``images`` may hold paths, PIL images or prepared images (``prepare_image``). Drop-in extras:
    ``score(prompt, image)`` with one image returns a float, and ``inference_rank(prompt, images)`` returns
    ``(ranks, rewards)`` like the original. ``download_root``: see :func:`resolve_checkpoint`.
    """

    name = "imagereward"

    def __init__(
        self,
        weights: PathName | None = None,
        device: str | None = None,
        dtype: str | None = None,
        tokenizer: PathName | None = None,
        med_config: PathName | None = None,
        batch_size: int = 16,
        vision_heads: int | None = None,
        download_root: PathName = ORIGINAL_DOWNLOAD_ROOT,
    ) -> None:
        require_score_extra("the ImageReward scorer")
        from imagearena.scorers.imagereward_net import ImageRewardNet

        if batch_size < 1:
            raise InputError("batch_size must be at least 1")
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        ckpt, med = resolve_checkpoint(weights, med_config, download_root)  # the weights matter most
        self.tokenizer = load_tokenizer(
            tokenizer or str(SOURCE.tokenizer), SOURCE.tokenizer_kind, SOURCE.special_tokens
        )
        try:
            med_dict = json.loads(Path(med).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {med}: {exc}") from None
        try:
            net = ImageRewardNet.from_checkpoint(_load_state(ckpt), med_dict, vision_heads=vision_heads)
        except (KeyError, ValueError, RuntimeError) as exc:  # missing keys, no layers, mismatched shapes
            reason = exc.args[0] if exc.args else type(exc).__name__
            raise InputError(f"{ckpt} is not an ImageReward checkpoint: {reason}") from None
        self.net: ImageRewardNet = net.to(device=self.device, dtype=self.dtype)
        self.net.head.float()  # the original scores [CLS] features in float32
        self.batch_size = batch_size
        self.image_size = net.image_size
        # the original transform: bicubic short-side resize, centre crop, RGB last, CLIP mean/std
        self.spec = replace(SOURCE.image, size=self.image_size)

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """One image as the network's float32 (3, S, S) input."""
        return pil_pixels(load_image(image), self.spec)

    def _tokenize(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer(
            list(prompts), padding="longest", truncation=True, max_length=MAX_TEXT_LENGTH, return_tensors="pt"
        )
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Any]) -> torch.Tensor:
        ids, mask = self._tokenize(prompts)
        raw: torch.Tensor = self.net(ids, mask, pixel_batch(images, self.spec, self.device, self.dtype))
        return (raw - REWARD_MEAN) / REWARD_STD

    @overload
    def score(self, prompts: str | Sequence[str], images: ImageInput) -> float: ...
    @overload
    def score(self, prompts: str | Sequence[str], images: Iterable[Any]) -> list[float]: ...
    def score(self, prompts: str | Sequence[str], images: ImageInput | Iterable[Any]) -> float | list[float]:
        """Normalised rewards, one per image (a single prompt broadcasts); a lone image gives a float."""
        from PIL.Image import Image

        if isinstance(images, str | os.PathLike | Image):
            return super().score(align_prompts(prompts, 1), [images])[0]
        return super().score(prompts, list(images))  # any iterable of images

    def inference_rank(self, prompt: str, images: Sequence[ImageInput]) -> tuple[list[int], list[float]]:
        """(rank of each image, 1 = best; reward of each image), in input order, as the original returns."""
        rewards = self.score(prompt, list(images))
        order = sorted(range(len(rewards)), key=lambda i: -rewards[i])
        ranks = [0] * len(rewards)
        for rank, i in enumerate(order, start=1):
            ranks[i] = rank
        return ranks, rewards


def load(
    name: str = MODEL_NAME,
    device: str | None = None,
    download_root: PathName | None = None,
    med_config: PathName | None = None,
    **kwargs: Any,
) -> ImageReward:
    """Drop-in for ``ImageReward.load(name, device, download_root, med_config)`` of the original package."""
    if download_root is not None and name == MODEL_NAME and (Path(download_root) / CHECKPOINT_FILE).is_file():
        name = str(download_root)
    return ImageReward(weights=name, device=device, med_config=med_config, **kwargs)
