"""ImageReward (Xu et al. 2023): a BLIP-based human-preference reward for (prompt, image) pairs.

Loads the official checkpoint format (``ImageReward.pt`` + ``med_config.json``, hub repo THUDM/ImageReward or
a local directory) and gives the original package's scores for the same weights, without timm, fairscale,
torchvision or clip, batched instead of one forward pass per image. Torch and transformers are imported
only when a scorer is built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from imagearena.errors import InputError
from imagearena.scorers.base import TorchScorer, align_prompts, pick_device, pick_dtype, require_score_extra
from imagearena.scorers.preprocess import CLIP_MEAN, CLIP_STD, ImageInput, clip_preprocess
from imagearena.scorers.sources import from_pretrained, hub_file

if TYPE_CHECKING:
    import numpy as np
    import torch

    from imagearena.scorers.imagereward_net import ImageRewardNet

DEFAULT_REPO = "THUDM/ImageReward"
MODEL_NAME = "ImageReward-v1.0"  # the original package's name for the released checkpoint
CHECKPOINT_FILE = "ImageReward.pt"
MED_CONFIG_FILE = "med_config.json"
DEFAULT_TOKENIZER = "bert-base-uncased"
MAX_TEXT_LENGTH = 35
# Reward normalisation of the released model (mean and std of raw rewards on its training prompts).
REWARD_MEAN = 0.16717362830052426
REWARD_STD = 1.0333394966054072
# Where the original package downloads to; reused so an existing download works offline.
ORIGINAL_CACHE = Path("~/.cache/ImageReward").expanduser()


def _hub_file(repo: str, filename: str) -> Path:
    """A file of a hub repo (the cache first, the network only when reachable), or what to do instead."""
    try:
        return hub_file(repo, filename)
    except InputError as exc:
        raise InputError(
            f"{exc}; ImageReward also loads from a folder holding {CHECKPOINT_FILE} and {MED_CONFIG_FILE} "
            "(--weights DIR, or weights=DIR in Python)"
        ) from None


def resolve_checkpoint(weights: str | os.PathLike | None = None, med_config: str | os.PathLike | None = None):
    """(checkpoint path, med_config path) for a hub repo id, a local directory or a local .pt file.

    ``None`` (or the original's name ``ImageReward-v1.0``) means THUDM/ImageReward, taken from the original
    package's download folder when both files are already there, else from the hub cache or the hub.
    """
    med = Path(med_config).expanduser() if med_config is not None else None
    if med is not None and not med.is_file():
        raise InputError(f"med_config file not found: {med}")
    source = str(weights) if weights is not None else MODEL_NAME
    path = Path(source).expanduser()
    if path.is_dir():
        ckpt = path / CHECKPOINT_FILE
        if not ckpt.is_file():
            raise InputError(
                f"{path} has no {CHECKPOINT_FILE}: pass the folder holding the ImageReward files"
            )
        med = med or path / MED_CONFIG_FILE
        if not med.is_file():
            raise InputError(
                f"{path} has no {MED_CONFIG_FILE}: put it beside {CHECKPOINT_FILE} or pass med_config="
            )
        return ckpt, med
    if path.is_file():
        med = med or (path.parent / MED_CONFIG_FILE if (path.parent / MED_CONFIG_FILE).is_file() else None)
        return path, med or _hub_file(DEFAULT_REPO, MED_CONFIG_FILE)
    if source == MODEL_NAME:
        local = ORIGINAL_CACHE / CHECKPOINT_FILE
        if local.is_file() and (med or (ORIGINAL_CACHE / MED_CONFIG_FILE)).is_file():
            return local, med or ORIGINAL_CACHE / MED_CONFIG_FILE
        source = DEFAULT_REPO
    repo = source.removeprefix("hf-hub:")
    if repo.count("/") != 1 or source.startswith((".", "/", "~")):
        raise InputError(
            f"ImageReward weights {source!r} are neither a file, a folder nor a hub repo id (org/name)"
        )
    return _hub_file(repo, CHECKPOINT_FILE), med or _hub_file(repo, MED_CONFIG_FILE)


def load_tokenizer(source: str | os.PathLike | None = None):
    """bert-base-uncased (hub id or local folder) with the original's added tokens: [DEC] as BOS, [ENC]."""
    from transformers import BertTokenizer

    source = str(source or DEFAULT_TOKENIZER)
    try:
        tokenizer = from_pretrained(BertTokenizer, source)
    except InputError as exc:
        raise InputError(
            f"cannot load the tokenizer: {exc}; --tokenizer takes a folder holding the vocab.txt of "
            "bert-base-uncased"
        ) from None
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tokenizer


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


class ImageReward(TorchScorer):
    """``score(prompts, images)`` over aligned lists, in batches; in float32 (``dtype="fp32"``; what ``auto``
    picks on a CPU without native bf16) the same numbers as the original package.

    ``images`` may hold paths or PIL images. Drop-in extras: ``score(prompt, image)`` with one image returns
    a float, and ``inference_rank(prompt, images)`` returns ``(ranks, rewards)`` like the original.
    """

    name = "imagereward"

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        device: str | None = None,
        dtype: str | None = None,
        tokenizer: str | os.PathLike | None = None,
        med_config: str | os.PathLike | None = None,
        batch_size: int = 16,
        vision_heads: int | None = None,
    ) -> None:
        require_score_extra("the ImageReward scorer")
        from imagearena.scorers.imagereward_net import ImageRewardNet

        if batch_size < 1:
            raise InputError("batch_size must be at least 1")
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        ckpt, med = resolve_checkpoint(weights, med_config)  # the weights first: they matter most
        self.tokenizer = load_tokenizer(tokenizer)
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

    # -- inputs -------------------------------------------------------------------------------------------

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """The original transform: bicubic short-side resize, centre crop, RGB, CLIP mean/std."""
        return clip_preprocess(image, self.image_size, CLIP_MEAN, CLIP_STD)

    def prepare_image(self, image: ImageInput) -> np.ndarray:
        """Preprocess ahead of time (e.g. in a decoder thread); ``score`` accepts the returned array."""
        return self.preprocess(image)

    def _pixels(self, image: ImageInput | np.ndarray) -> np.ndarray:
        shape = (3, self.image_size, self.image_size)
        if getattr(image, "shape", None) is None:
            return self.preprocess(image)
        if tuple(image.shape) != shape:
            raise InputError(f"a prepared image must be a float32 array of shape {shape}, got {image.shape}")
        return image

    def _tokenize(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.tokenizer(
            list(prompts), padding="longest", truncation=True, max_length=MAX_TEXT_LENGTH, return_tensors="pt"
        )
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def _pixel_batches(self, images: Sequence[ImageInput]) -> Iterator[np.ndarray]:
        """Decoded, preprocessed batches; the next batch is prepared in a thread while the current one runs."""
        import numpy as np

        def prepare(start: int) -> np.ndarray:
            return np.stack([self._pixels(img) for img in images[start : start + self.batch_size]])

        starts = range(0, len(images), self.batch_size)
        if len(starts) <= 1:
            yield from (prepare(s) for s in starts)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(prepare, starts[0])
            for nxt in [*starts[1:], None]:
                ready = pending.result()
                if nxt is not None:
                    pending = pool.submit(prepare, nxt)
                yield ready

    # -- scoring ------------------------------------------------------------------------------------------

    def _rewards(self, prompts: Sequence[str], images: Sequence[ImageInput]) -> list[float]:
        import torch

        out: list[float] = []
        with torch.inference_mode():
            for i, pixels in enumerate(self._pixel_batches(images)):
                start = i * self.batch_size
                ids, mask = self._tokenize(prompts[start : start + len(pixels)])
                x = torch.from_numpy(pixels).to(self.device, self.dtype)
                raw = self.net(ids, mask, x)
                out.extend(((raw - REWARD_MEAN) / REWARD_STD).tolist())
        return out

    @overload
    def score(self, prompts: str | Sequence[str], images: ImageInput) -> float: ...
    @overload
    def score(self, prompts: str | Sequence[str], images: Sequence[ImageInput]) -> list[float]: ...
    def score(self, prompts, images):
        """Normalised rewards, one per image (a single prompt broadcasts); a lone image gives a float."""
        from PIL.Image import Image

        if isinstance(images, (str, os.PathLike, Image)):
            return self._rewards(align_prompts(prompts, 1), [images])[0]
        images = list(images)  # any iterable of images
        return self._rewards(align_prompts(prompts, len(images)), images)

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
    download_root: str | os.PathLike | None = None,
    med_config: str | os.PathLike | None = None,
    **kwargs: Any,
) -> ImageReward:
    """Drop-in for ``ImageReward.load(name, device, download_root, med_config)`` of the original package."""
    if download_root is not None and name == MODEL_NAME and (Path(download_root) / CHECKPOINT_FILE).is_file():
        name = str(download_root)
    return ImageReward(weights=name, device=device, med_config=med_config, **kwargs)
