"""CLIP score, PickScore, BLIP score and the aesthetic head on tiny random-weight models, each checked
against an independent computation (transformers' own image processor, the formula by hand)."""

from __future__ import annotations

import pytest
import torch

from imagearena.errors import InputError
from imagearena.scorers import create_scorer

PROMPTS = ["a photo of a cat", "a red car", "the blue house", "a dog on the tree"]


def reference_clip_features(folder, images, prompts):
    """Normalised CLIP embeddings through transformers' processor classes, not our preprocessing."""
    from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

    model = CLIPModel.from_pretrained(folder).eval()
    pixels = CLIPImageProcessorPil.from_pretrained(folder)(images=images, return_tensors="pt")["pixel_values"]
    tokens = AutoTokenizer.from_pretrained(folder)(prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels).pooler_output
        txt = model.get_text_features(**tokens).pooler_output
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    return model, img, txt


def test_clip_score_matches_torchmetrics_formula(tiny_clip, images):
    scorer = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32")
    got = scorer.score(PROMPTS, images)
    _, img, txt = reference_clip_features(tiny_clip, images, PROMPTS)
    expected = (100 * (img * txt).sum(-1)).clamp(min=0)
    assert got == pytest.approx(expected.tolist(), abs=1e-3)
    assert all(v >= 0 for v in got)


def test_clip_score_is_clamped_at_zero(tiny_clip, images):
    """A negative cosine reads 0, not a negative score: flipping the image projection flips every
    cosine's sign, so every pair that scored above 0 now scores exactly 0."""
    scorer = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32")
    before = scorer.score(PROMPTS, images)
    assert all(v > 0 for v in before)
    with torch.no_grad():
        scorer.model.visual_projection.weight.neg_()
    assert scorer.score(PROMPTS, images) == [0.0] * len(images)


def test_single_prompt_broadcasts_and_batches_agree(tiny_clip, images):
    one = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32", batch_size=1)
    many = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32", batch_size=3)
    a = one.score("a photo of a cat", images)
    b = many.score(["a photo of a cat"] * len(images), images)
    assert a == pytest.approx(b, abs=1e-4)
    assert len(set(round(v, 4) for v in a)) > 1


def test_mismatched_lengths_are_an_error(tiny_clip, images):
    scorer = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32")
    with pytest.raises(InputError, match="one prompt per image"):
        scorer.score(PROMPTS[:2], images)


def test_pickscore_is_logit_scaled_cosine(tiny_clip, images):
    scorer = create_scorer(
        "pickscore", weights=str(tiny_clip), tokenizer=str(tiny_clip), device="cpu", dtype="fp32"
    )
    model, img, txt = reference_clip_features(tiny_clip, images, PROMPTS)
    expected = model.logit_scale.exp() * (img * txt).sum(-1)
    assert scorer.score(PROMPTS, images) == pytest.approx(expected.tolist(), abs=1e-3)


def test_aesthetic_is_head_on_normalised_embedding(tiny_clip, tiny_aesthetic_head, images):
    scorer = create_scorer(
        "aesthetic", weights=str(tiny_aesthetic_head), clip=str(tiny_clip), device="cpu", dtype="fp32"
    )
    _, img, _ = reference_clip_features(tiny_clip, images, PROMPTS)
    state = torch.load(tiny_aesthetic_head / "sac+logos+ava1-l14-linearMSE.pth")
    x = img
    for i in (0, 2, 4, 6, 7):  # Linear layers only: the original has no activations
        x = x @ state[f"layers.{i}.weight"].T + state[f"layers.{i}.bias"]
    got = scorer.score(PROMPTS, images)
    assert got == pytest.approx(x.squeeze(-1).tolist(), abs=1e-4)
    assert scorer.score(["something else entirely"], images) == pytest.approx(got, abs=1e-6)


def test_aesthetic_head_file_can_be_given_directly(tiny_clip, tiny_aesthetic_head, images):
    path = tiny_aesthetic_head / "sac+logos+ava1-l14-linearMSE.pth"
    a = create_scorer("aesthetic", weights=str(path), clip=str(tiny_clip), device="cpu", dtype="fp32").score(
        "x", images[:1]
    )
    b = create_scorer(
        "aesthetic", weights=str(tiny_aesthetic_head), clip=str(tiny_clip), device="cpu", dtype="fp32"
    )
    assert a == pytest.approx(b.score("x", images[:1]))


def test_aesthetic_rejects_head_of_wrong_width(tmp_path, tiny_clip):
    state = {"layers.0.weight": torch.zeros(4, 768), "layers.0.bias": torch.zeros(4)}
    torch.save(state, tmp_path / "head.pth")
    with pytest.raises(InputError, match="768-d"):
        create_scorer("aesthetic", weights=str(tmp_path / "head.pth"), clip=str(tiny_clip), device="cpu")


def test_blip_score_is_itc_cosine(tiny_blip, images):
    from transformers import AutoTokenizer, BlipForImageTextRetrieval, BlipImageProcessorPil

    scorer = create_scorer("blip", weights=str(tiny_blip), device="cpu", dtype="fp32")
    got = scorer.score(PROMPTS, images)
    model = BlipForImageTextRetrieval.from_pretrained(tiny_blip).eval()
    pixels = BlipImageProcessorPil.from_pretrained(tiny_blip)(images=images, return_tensors="pt")[
        "pixel_values"
    ]
    tokens = AutoTokenizer.from_pretrained(tiny_blip)(PROMPTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        vision = model.vision_model(pixel_values=pixels).last_hidden_state
        text = model.text_encoder(**tokens).last_hidden_state
        img = torch.nn.functional.normalize(model.vision_proj(vision[:, 0]), dim=-1)
        txt = torch.nn.functional.normalize(model.text_proj(text[:, 0]), dim=-1)
    assert got == pytest.approx((img * txt).sum(-1).tolist(), abs=1e-4)
    assert all(-1 <= v <= 1 for v in got)


@pytest.mark.parametrize("name", ["clip", "pickscore"])
def test_long_prompts_are_truncated_to_the_context(name, tiny_clip, images):
    """The tiny text tower has 16 positions: a 200-word prompt must be truncated, not crash."""
    scorer = create_scorer(name, weights=str(tiny_clip), tokenizer=str(tiny_clip), device="cpu", dtype="fp32")
    long_prompt = " ".join(["a red car"] * 70)
    got = scorer.score(long_prompt, images[:2])
    assert len(got) == 2 and all(v == v for v in got)


def test_stream_keeps_each_pipelines_rgb_conversion_order(tiny_clip, tiny_aesthetic_head, tmp_path):
    """The aesthetic reference converts RGBA to RGB after resizing (PIL resizes RGBA with premultiplied
    alpha, so the order changes pixels): streaming from a file must give the same score as scoring
    the image object, not the score of an image converted first."""
    import numpy as np
    from PIL import Image

    from imagearena.scorers.io import ScoreItem, score_stream

    rng = np.random.default_rng(5)
    rgba = Image.fromarray(rng.integers(0, 256, (64, 48, 4), dtype=np.uint8), "RGBA")
    rgba.save(tmp_path / "alpha.png")
    scorer = create_scorer(
        "aesthetic", weights=str(tiny_aesthetic_head), clip=str(tiny_clip), device="cpu", dtype="fp32"
    )
    [streamed] = list(score_stream(scorer, [ScoreItem(tmp_path / "alpha.png", "x")], workers=2))
    direct = scorer.score("x", [rgba])[0]
    assert streamed.score == pytest.approx(direct, abs=1e-6)
    assert scorer.score("x", [rgba.convert("RGB")])[0] != pytest.approx(direct, abs=1e-6)
