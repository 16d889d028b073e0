"""What every torch scorer shares: aligned inputs, the check for the score extra, device and dtype
choice, batching and inference mode. Where weights come from is imagearena.scorers.sources."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from imagearena import devices
from imagearena.errors import InputError, MissingDependencyError
from imagearena.scorers.precision import SlowDtypeWarning, choose_dtype, cpu_flags, has_native_bf16

if TYPE_CHECKING:
    import torch


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


SCORE_PACKAGES = ("torch", "transformers")


def require_score_extra(feature: str, packages: Sequence[str] = SCORE_PACKAGES) -> None:
    """Import the packages a scorer needs, or raise the error that says how to install the extra:
    a scorer must fail with that hint before it touches a model, never with a traceback."""
    for package in packages:
        try:
            import_module(package)
        except ImportError as exc:
            missing = (exc.name or package).partition(".")[0]
            raise MissingDependencyError(feature, "score", missing) from None


def require_torch() -> Any:
    """Import torch, or say which extra to install."""
    require_score_extra("reward scorers", ("torch",))
    import torch

    return torch


def pick_device(device: str | None = None) -> str:
    """``None`` or ``"auto"`` picks cuda, then mps, then cpu."""
    return devices.pick_device(require_torch(), device)


def pick_dtype(device: str, dtype: str | None = None) -> torch.dtype:
    """``dtype``, or for ``auto`` the fastest one the hardware runs natively (see
    imagearena.scorers.precision); an explicit dtype that would run emulated warns (SlowDtypeWarning)."""
    require_torch()
    import torch

    cpu_bf16 = device.startswith("cpu") and has_native_bf16(cpu_flags())
    try:
        cuda_bf16 = devices.cuda_has_bf16(torch, device)
        choice = choose_dtype(device, dtype, cuda_bf16=cuda_bf16, cpu_bf16=cpu_bf16)
    except KeyError:
        raise devices.unknown_dtype(dtype) from None
    if choice.warning:
        warnings.warn(choice.warning, SlowDtypeWarning, stacklevel=2)
    chosen: torch.dtype = getattr(torch, choice.name)
    return chosen


class TorchScorer:
    """Base for scorers that run a torch model: subclasses implement ``_score_batch``.

    ``score`` aligns prompts, slices batches and runs them under ``torch.inference_mode``; subclasses
    see only one batch of (prompt, image) pairs at a time. A subclass with ``prepare_image`` (a
    StreamingScorer) has the next batch decoded and prepared by the shared streaming decoder
    (imagearena.scorers.io) while the model runs the current one.
    """

    name: str = "scorer"
    batch_size: int = 16
    device: str = "cpu"

    def score(self, prompts: str | Sequence[str], images: Sequence[Any]) -> list[float]:
        from imagearena.scorers.io import prepared_batches
        from imagearena.types import StreamingScorer

        torch = require_torch()
        prompts = align_prompts(prompts, len(images))
        prepare = self.prepare_image if isinstance(self, StreamingScorer) else None
        out: list[float] = []
        with torch.inference_mode():
            for batch in prepared_batches(images, self.batch_size, prepare):
                values = self._score_batch(prompts[len(out) : len(out) + len(batch)], batch)
                out.extend(float(v) for v in values.float().cpu().tolist())
        return out

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Any]) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} on {self.device}>"
