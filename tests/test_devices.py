"""The one choice of device and float type that the torch scorers and the diffusers generator share.
This machine's torch has no CUDA, so asking for a GPU is refused in the words of whoever asked."""

from __future__ import annotations

import pytest

from imagearena.devices import dtype_name, is_auto, pick_device, unknown_dtype
from imagearena.errors import InputError

torch = pytest.importorskip("torch")
needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@pytest.mark.parametrize("requested", [None, "", "auto"])
def test_nothing_asked_for_is_auto(requested):
    assert is_auto(requested)
    assert dtype_name("cpu", requested) == "float32"


@pytest.mark.parametrize(
    ("device", "requested", "cuda_bf16", "expected"),
    [("cuda:0", None, True, "bfloat16"), ("cuda", "auto", False, "float16"), ("mps", None, True, "float16"),
     ("cpu", "torch.bfloat16", False, "bfloat16"), ("cuda", "half", True, "float16")],
)  # fmt: skip
def test_dtype_names(device, requested, cuda_bf16, expected):
    assert dtype_name(device, requested, cuda_bf16=cuda_bf16) == expected


def test_an_unknown_dtype_is_a_key_error_said_as_an_input_error():
    with pytest.raises(KeyError):
        dtype_name("cpu", "fp8")
    assert str(unknown_dtype("fp8")) == "unknown dtype 'fp8': use one of auto, fp32, fp16, bf16"


@needs_no_cuda
def test_a_missing_gpu_is_named_as_the_user_named_it():
    assert pick_device(torch, None) in {"cpu", "mps"} and pick_device(torch, "cpu") == "cpu"
    with pytest.raises(InputError) as flag:
        pick_device(torch, "cuda:1")
    assert str(flag.value) == "--device cuda:1: CUDA is not available here; use --device auto or cpu"
    with pytest.raises(InputError) as key:
        pick_device(torch, "cuda", option="device")
    assert str(key.value) == 'device \'cuda\': CUDA is not available here; use device = "auto" or "cpu"'
