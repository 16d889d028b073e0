"""Shared scorer plumbing: prompt alignment, device/dtype choice, weight source resolution."""

from __future__ import annotations

import pytest
import torch

from imagearena.errors import InputError
from imagearena.scorers.base import align_prompts, pick_device, pick_dtype
from imagearena.scorers.sources import resolve_dir, resolve_file


def test_align_prompts():
    assert align_prompts("a", 3) == ["a", "a", "a"]
    assert align_prompts(["a"], 2) == ["a", "a"]
    assert align_prompts(["a", "b"], 2) == ["a", "b"]
    with pytest.raises(InputError, match="3 prompts for 2 images"):
        align_prompts(["a", "b", "c"], 2)


def test_device_and_dtype():
    assert pick_device("cpu") == "cpu"
    assert pick_device(None) in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            pick_device("cuda:0")
    assert pick_dtype("cpu") is torch.float32  # on every CPU; choose_dtype is tested for every case
    assert pick_dtype("cpu", "bf16") is torch.bfloat16
    assert pick_dtype("cuda:0", "fp16") is torch.float16
    with pytest.raises(InputError, match="unknown dtype"):
        pick_dtype("cpu", "int4")


def test_resolve_local_sources(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"x")
    assert resolve_file(tmp_path, "w.pt") == tmp_path / "w.pt"
    assert resolve_file(tmp_path / "w.pt", "other.pt") == tmp_path / "w.pt"
    with pytest.raises(InputError, match="has no missing.pt"):
        resolve_file(tmp_path, "missing.pt")
    with pytest.raises(InputError, match="check the path"):
        resolve_file(str(tmp_path / "nope" / "w.pt"), "w.pt")
    with pytest.raises(InputError, match="check the path"):
        resolve_dir("./definitely-not-here")
    assert resolve_dir("org/model") == "org/model"  # a hub id, resolved by the loader


def test_missing_local_weights_folder_is_a_user_error():
    from imagearena.scorers import create_scorer

    with pytest.raises(InputError, match="check the path"):
        create_scorer("clip", weights="./no-such-clip", device="cpu")
