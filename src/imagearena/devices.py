"""Where a torch model runs and in which float type: shared by the torch scorers (imagearena.scorers.base,
whose CPU bf16 rule is imagearena.scorers.precision) and the diffusers generator.

The module imports no torch: a caller that has imported it passes it in, so the package imports without
the extras.
"""

from __future__ import annotations

from typing import Any

from imagearena.errors import InputError

DTYPE_NAMES = {
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
}


def is_auto(requested: str | None) -> bool:
    """True when nothing was asked for: ``None``, empty or ``auto``."""
    return requested in (None, "", "auto")


def dtype_name(device: str, requested: str | None, *, cuda_bf16: bool = False) -> str:
    """The torch dtype name for ``device``: ``requested`` when given (``fp16``, ``torch.float16``...); for
    ``auto`` float32 on a CPU (the same numbers on any CPU; half precision there is emulated and slow),
    bf16 on GPUs that have it (``cuda_bf16``; the SDXL and Flux VAEs overflow in fp16), fp16 on other
    GPUs and on MPS. Raises KeyError for an unknown name (:func:`unknown_dtype` says it to a user)."""
    if not is_auto(requested):
        return DTYPE_NAMES[str(requested).removeprefix("torch.")]
    if device.startswith("cuda"):
        return "bfloat16" if cuda_bf16 else "float16"
    if device.startswith("mps"):
        return "float16"
    return "float32"


def unknown_dtype(requested: str | None) -> InputError:
    """The error for a dtype name :data:`DTYPE_NAMES` does not know."""
    return InputError(f"unknown dtype {requested!r}: use one of auto, fp32, fp16, bf16")


def cuda_has_bf16(torch: Any, device: str) -> bool:
    """True when ``device`` is a CUDA GPU that computes in bf16."""
    return device.startswith("cuda") and bool(torch.cuda.is_bf16_supported())


def pick_device(torch: Any, requested: str | None, *, option: str = "--device") -> str:
    """``auto`` (or nothing) picks cuda, then mps, then cpu; a named device must exist here.

    ``option`` is how the user named the device in the error: a command's flag (``--device``) or a
    generators-file key (``device``)."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and bool(mps.is_available())
    if is_auto(requested):
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    device = str(requested)
    missing = None
    if device.startswith("cuda") and not torch.cuda.is_available():
        missing = "CUDA"
    elif device.startswith("mps") and not has_mps:
        missing = "MPS"
    if missing is not None:
        if option.startswith("--"):
            raise InputError(f"{option} {device}: {missing} is not available here; use {option} auto or cpu")
        raise InputError(
            f'{option} {device!r}: {missing} is not available here; use {option} = "auto" or "cpu"'
        )
    return device
