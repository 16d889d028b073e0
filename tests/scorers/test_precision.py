"""The dtype choice: bf16 only where the hardware runs it natively, a warning where it was asked for
and would be emulated. choose_dtype is pure, so every kind of machine is tested here with its flags."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import imagearena.cli  # noqa: F401  (registers the commands)
from imagearena.cli.app import app
from imagearena.scorers.precision import DtypeChoice, choose_dtype, cpu_flags, has_native_bf16

# /proc/cpuinfo excerpts: an AMD EPYC without bf16 units (AVX2 only), an Intel Xeon with AVX-512 BF16 and
# AMX, an Arm server with the BF16 extension.
EPYC = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma sha_ni\n"
XEON = "vendor_id\t: GenuineIntel\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(EPYC, False), (XEON, True), (ARM, True), ("", False)])
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo, native):
    assert has_native_bf16(cpu_flags(cpuinfo)) is native


def test_an_avx512_cpu_without_the_bf16_flag_is_not_native():
    assert not has_native_bf16(cpu_flags("flags\t: avx512f avx512bw avx512vl avx512_vnni\n"))


@pytest.mark.parametrize(
    ("device", "requested", "facts", "expected"),
    [
        ("cpu", None, {"cpu_bf16": False}, "float32"),
        ("cpu", "auto", {"cpu_bf16": True}, "float32"),
        ("cpu", "fp32", {"cpu_bf16": True}, "float32"),
        ("cpu", "bf16", {"cpu_bf16": True}, "bfloat16"),
        ("cpu", "torch.float16", {}, "float16"),
        ("cuda", None, {"cuda_bf16": True}, "bfloat16"),
        ("cuda:1", "auto", {"cuda_bf16": False}, "float16"),
        ("cuda", "bf16", {"cpu_bf16": False}, "bfloat16"),  # the CPU's flags do not matter on a GPU
        ("mps", None, {}, "float16"),
    ],
)
def test_choices_without_a_warning(device, requested, facts, expected):
    assert choose_dtype(device, requested, **facts) == DtypeChoice(expected)


@pytest.mark.parametrize("requested", ["bf16", "bfloat16", "torch.bfloat16"])
def test_bf16_asked_for_on_a_cpu_without_it_warns(requested):
    choice = choose_dtype("cpu", requested, cpu_bf16=False)
    assert choice.name == "bfloat16"
    assert choice.warning is not None and "--dtype fp32" in choice.warning and "\n" not in choice.warning


def test_unknown_names_are_refused():
    with pytest.raises(KeyError):
        choose_dtype("cpu", "fp8")


def test_the_cli_prints_the_warning_as_one_line(tiny_clip, image_files, monkeypatch):
    """This machine's CPU has bf16 units; the CPU of the report (flags above) is stood in for it."""
    monkeypatch.setattr("imagearena.scorers.base.cpu_flags", lambda: cpu_flags(EPYC))
    args = [
        "score",
        "-s",
        "clip",
        "--weights",
        str(tiny_clip),
        "-p",
        "a cat",
        "--device",
        "cpu",
        "-f",
        "json",
    ]
    slow = CliRunner().invoke(app, [*args, "--dtype", "bf16", *map(str, image_files)])
    assert slow.exit_code == 0, slow.output
    warnings = [line for line in slow.stderr.splitlines() if "bf16" in line]
    assert warnings == [line for line in warnings if line.startswith("Warning: bf16 on this CPU is emulated")]
    assert len(warnings) == 1 and "SlowDtypeWarning" not in slow.stderr
    fast = CliRunner().invoke(app, [*args, "--dtype", "fp32", *map(str, image_files)])
    assert fast.exit_code == 0 and "Warning" not in fast.stderr
