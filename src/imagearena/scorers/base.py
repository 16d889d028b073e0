"""What every torch scorer shares: aligned inputs, device and dtype choice, batching, inference mode."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from imagearena.errors import InputError

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

T = TypeVar("T")


def align_prompts(prompts: str | Sequence[str], n_images: int) -> list[str]:
    """One prompt per image. A single prompt broadcasts; any other length mismatch is an error,
    never a silent prompts x images product."""
    if isinstance(prompts, str):
        return [prompts] * n_images
    prompts = list(prompts)
    if len(prompts) == 1:
        return prompts * n_images
    if len(prompts) != n_images:
        raise InputError(
            f"got {len(prompts)} prompts for {n_images} images: pass one prompt per image, or a single prompt"
        )
    return prompts


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pick_device(device: str | None = None) -> str:
    """``None`` or ``"auto"`` picks cuda, then mps, then cpu."""
    import torch

    if device not in (None, "auto"):
        return str(device)
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, dtype: str | None = None) -> torch.dtype:
    """Half precision on accelerators (bf16 where supported), float32 on CPU, unless asked otherwise."""
    import torch

    if dtype not in (None, "auto"):
        return {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16,
                "float16": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}[str(dtype)]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


class TorchScorer:
    """Base for scorers that run a torch model: subclasses implement ``_score_batch``."""

    name: str = "scorer"
    batch_size: int = 16

    def score(self, prompts: str | Sequence[str], images: Sequence[Image]) -> list[float]:
        import torch

        prompts = align_prompts(prompts, len(images))
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                stop = start + self.batch_size
                out.extend(float(v) for v in self._score_batch(prompts[start:stop], images[start:stop]))
        return out

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> Sequence[float]:
        raise NotImplementedError
