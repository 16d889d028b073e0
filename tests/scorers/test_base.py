"""Shared scorer plumbing: prompt alignment, device/dtype choice, weight source resolution."""

from __future__ import annotations

import pytest
import torch

from imagearena.errors import InputError
from imagearena.scorers.base import align_prompts, pick_device, pick_dtype
from imagearena.scorers.sources import Source, resolve_source


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
    assert resolve_source(tmp_path).file("w.pt") == tmp_path / "w.pt"
    assert resolve_source(tmp_path / "w.pt").file("other.pt") == tmp_path / "w.pt"
    with pytest.raises(InputError, match="has no missing.pt"):
        resolve_source(tmp_path).file("missing.pt")
    with pytest.raises(InputError, match="check the path"):
        resolve_source(str(tmp_path / "nope" / "w.pt"))
    with pytest.raises(InputError, match="check the path"):
        resolve_source("./definitely-not-here")
    assert resolve_source("org/model") == Source(repo="org/model")  # a hub id, read by the loader


def test_one_parser_for_hub_ids_hf_hub_names_and_paths(tmp_path):
    assert resolve_source("hf-hub:org/model") == resolve_source("org/model") == Source(repo="org/model")
    assert resolve_source("bert-base-uncased") == Source(repo="bert-base-uncased")
    assert resolve_source(f"{tmp_path}") == Source(path=tmp_path)
    for bad in ("hf-hub:./x", "hf-hub:a/b/c", "hf-hub:", "org/model name"):
        with pytest.raises(InputError, match="hub repo id"):
            resolve_source(bad)


def test_missing_local_weights_folder_is_a_user_error():
    from imagearena.scorers import create_scorer

    with pytest.raises(InputError, match="check the path"):
        create_scorer("clip", weights="./no-such-clip", device="cpu")


def test_clip_normalisation_and_the_tokenizer_loader_are_defined_once():
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "imagearena"
    text = "".join(path.read_text(encoding="utf-8") for path in src.rglob("*.py"))
    assert text.count("0.48145466") == 1 and text.count("0.26862954") == 1
    assert text.count("def load_tokenizer(") == 1
