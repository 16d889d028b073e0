"""What every torch scorer shares: aligned inputs, device and dtype choice, batching, inference mode,
and one way to resolve a weights source (a local path or a hub id) that stays offline when asked."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from imagearena.errors import InputError, MissingDependencyError

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
    torch = require_torch()

    if device not in (None, "", "auto"):
        device = str(device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"--device {device}: CUDA is not available here; use --device auto or cpu")
        if device.startswith("mps") and not (
            getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
        ):
            raise InputError(f"--device {device}: MPS is not available here; use --device auto or cpu")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


_DTYPES = {
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
}


def pick_dtype(device: str, dtype: str | None = None) -> torch.dtype:
    """Half precision on accelerators (bf16 where supported), float32 on CPU, unless asked otherwise."""
    torch = require_torch()

    if dtype not in (None, "", "auto"):
        key = str(dtype).removeprefix("torch.")
        if key not in _DTYPES:
            raise InputError(f"unknown dtype {dtype!r}: use one of auto, fp32, fp16, bf16")
        return getattr(torch, _DTYPES[key])
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_file(source: str | os.PathLike[str], filename: str) -> Path:
    """A weights file from a local file, a local directory holding ``filename``, or a hub repo id.

    With ``HF_HUB_OFFLINE=1`` a hub id is only looked up in the local cache: never the network.
    """
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        candidate = path / filename
        if not candidate.is_file():
            raise InputError(f"{path} has no {filename}: point to the file itself or to a folder holding it")
        return candidate
    if _looks_local(str(source)):
        raise InputError(f"weights not found at {source}: check the path")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover
        raise MissingDependencyError("downloading weights", "score", "huggingface_hub") from exc
    try:
        return Path(hf_hub_download(repo_id=str(source), filename=filename, local_files_only=hub_offline()))
    except Exception as exc:  # the hub client raises many types; all mean "not available"
        raise InputError(_unavailable(str(source), filename, exc)) from exc


def resolve_dir(source: str | os.PathLike[str]) -> str:
    """A ``from_pretrained`` source: a local directory as is, or a hub id (cache only when offline)."""
    path = Path(source).expanduser()
    if path.is_dir():
        return str(path)
    if _looks_local(str(source)):
        raise InputError(f"no model folder at {source}: check the path")
    return str(source)


def from_pretrained(cls: Any, source: str | os.PathLike[str], **kwargs: Any) -> Any:
    """``cls.from_pretrained`` with offline-only lookup under HF_HUB_OFFLINE and a clear error."""
    src = resolve_dir(source)
    if hub_offline():
        kwargs.setdefault("local_files_only", True)
    try:
        return cls.from_pretrained(src, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(_unavailable(src, None, exc)) from exc


def _looks_local(source: str) -> bool:
    """Paths that cannot be hub ids: absolute, relative with ./ or ../, more than one slash, a file suffix."""
    if source.startswith(("/", "./", "../", "~", ".\\")):
        return True
    return source.count("/") > 1 or Path(source).suffix in {".pt", ".pth", ".bin", ".safetensors", ".json"}


def _unavailable(source: str, filename: str | None, exc: Exception) -> str:
    what = f"{filename} from {source}" if filename else source
    hint = (
        "HF_HUB_OFFLINE=1 is set and it is not in the local cache: download it once online, "
        "or pass a local path"
        if hub_offline()
        else "check the hub id, your network, or pass a local path"
    )
    return f"could not load {what} ({type(exc).__name__}): {hint}"


class TorchScorer:
    """Base for scorers that run a torch model: subclasses implement ``_score_batch``.

    ``score`` aligns prompts, slices batches and runs them under ``torch.inference_mode``; subclasses
    see only one batch of (prompt, image) pairs at a time.
    """

    name: str = "scorer"
    batch_size: int = 16
    device: str = "cpu"

    def score(self, prompts: str | Sequence[str], images: Sequence[Image]) -> list[float]:
        torch = require_torch()

        prompts = align_prompts(prompts, len(images))
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                stop = start + self.batch_size
                values = self._score_batch(prompts[start:stop], images[start:stop])
                if hasattr(values, "tolist"):
                    values = values.float().cpu().tolist() if hasattr(values, "float") else values.tolist()
                out.extend(float(v) for v in values)
        return out

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> Sequence[float]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} on {self.device}>"
