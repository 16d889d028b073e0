"""Which float type a scorer runs in.

bf16 is fast only where the hardware multiplies in bf16: most GPUs, and CPUs with AVX-512 BF16 or AMX
(x86) or the BF16 extension (Arm). Elsewhere torch emulates it: ImageReward in bf16 on an AMD EPYC
without those units ran at 0.19x the original package's speed, against 1.20x in float32. ``auto``
keeps float32 on every CPU, so a score does not depend on which CPU computed it (bf16 moves
ImageReward scores by up to about 0.02); bf16 on a CPU is an explicit choice, and one where it is not
native gets a warning. The choice itself is a pure function of the facts, :func:`choose_dtype`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imagearena.devices import dtype_name, is_auto

# /proc/cpuinfo flags of native bf16 arithmetic: x86 AVX-512 BF16 and AMX, Arm's BF16 extension.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


class SlowDtypeWarning(UserWarning):
    """The requested dtype runs emulated, much slower than float32, on this device."""


@dataclass(frozen=True, slots=True)
class DtypeChoice:
    name: str  # a torch dtype name: float32, float16 or bfloat16
    warning: str | None = None


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``) from /proc/cpuinfo; empty where the
    file does not exist (macOS, Windows), which counts as no native bf16."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def has_native_bf16(flags: Iterable[str]) -> bool:
    return not BF16_CPU_FLAGS.isdisjoint(flags)


def choose_dtype(
    device: str, requested: str | None, *, cuda_bf16: bool = False, cpu_bf16: bool = False
) -> DtypeChoice:
    """The dtype for ``device``: ``requested`` when given (with a warning where it would be slow),
    else bf16 on GPUs that have it, fp16 on other GPUs and MPS, float32 on every CPU.

    ``cuda_bf16``: the GPU supports bf16; ``cpu_bf16``: the CPU has native bf16 (see BF16_CPU_FLAGS).
    Raises KeyError for an unknown dtype name."""
    name = dtype_name(device, requested, cuda_bf16=cuda_bf16)  # float32 on every CPU for auto
    if not is_auto(requested) and name == "bfloat16" and device.startswith("cpu") and not cpu_bf16:
        return DtypeChoice(
            name,
            "bf16 on this CPU is emulated (no AVX-512 BF16, AMX or Arm BF16) and runs several times "
            "slower than float32: use --dtype fp32 (or auto)",
        )
    return DtypeChoice(name)
