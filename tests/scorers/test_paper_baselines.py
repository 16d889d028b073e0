"""The ImageReward paper's baselines: ``clip-cosine`` (raw OpenAI CLIP cosine) and ``blip-large`` (ITC
cosine of BLIP-large from the original ``model_large.pth``), each against an independent computation."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402

from imagearena.errors import InputError  # noqa: E402
from imagearena.scorers import create_scorer  # noqa: E402
from imagearena.scorers.preprocess import clip_preprocess  # noqa: E402

PROMPTS = ["a photo of a cat", "a red car", "the blue house on a tree", "a dog"]


def original_state(folder: Path) -> dict:
    return torch.load(folder / "model_large.pth", weights_only=True)["model"]


def reference_itc(folder: Path, tokenizer, prompts: list[str], images, heads: int) -> list[float]:
    """BLIP_Pretrain's ITC as salesforce/BLIP computes it, on the original tensors: timm's pre-norm ViT
    (fused qkv, LayerNorm eps 1e-6), BERT in text mode (additive -10000 mask, eps 1e-12), the [CLS]
    rows projected and L2-normalised, their dot product. Pixels: torchvision's transform."""
    s = {k: v.double() if v.is_floating_point() else v for k, v in original_state(folder).items()}
    cfg = json.loads((folder / "med_config.json").read_text())

    def lin(x, p):
        return x @ s[f"{p}.weight"].T + s[f"{p}.bias"]

    def ln(x, p, eps):
        return F.layer_norm(x, x.shape[-1:], s[f"{p}.weight"], s[f"{p}.bias"], eps)

    def attention(q, k, v, n_heads, bias=None):
        b, n, w = q.shape
        split = lambda t: t.view(b, -1, n_heads, w // n_heads).transpose(1, 2)  # noqa: E731
        scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(w // n_heads)
        if bias is not None:
            scores = scores + bias
        return (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, n, w)

    pixels = torch.stack([torch.from_numpy(clip_preprocess(im, 32)) for im in images]).double()
    x = F.conv2d(
        pixels, s["visual_encoder.patch_embed.proj.weight"], s["visual_encoder.patch_embed.proj.bias"], 8
    )
    x = x.flatten(2).transpose(1, 2)
    x = (
        torch.cat([s["visual_encoder.cls_token"].expand(len(images), -1, -1), x], 1)
        + s["visual_encoder.pos_embed"]
    )
    for i in range(2):
        p = f"visual_encoder.blocks.{i}"
        q, k, v = lin(ln(x, f"{p}.norm1", 1e-6), f"{p}.attn.qkv").chunk(3, dim=-1)
        x = x + lin(attention(q, k, v, heads), f"{p}.attn.proj")
        x = x + lin(F.gelu(lin(ln(x, f"{p}.norm2", 1e-6), f"{p}.mlp.fc1")), f"{p}.mlp.fc2")
    image = F.normalize(lin(ln(x, "visual_encoder.norm", 1e-6)[:, 0], "vision_proj"), dim=-1)

    tokens = tokenizer(prompts, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    t = (
        s["text_encoder.embeddings.word_embeddings.weight"][ids]
        + s["text_encoder.embeddings.position_embeddings.weight"][: ids.shape[1]]
    )
    t = ln(t, "text_encoder.embeddings.LayerNorm", 1e-12)
    bias = (1.0 - mask[:, None, None, :].double()) * -10000.0
    for i in range(cfg["num_hidden_layers"]):
        p = f"text_encoder.encoder.layer.{i}"
        a = p + ".attention"
        heads_t = cfg["num_attention_heads"]
        ctx = attention(
            lin(t, f"{a}.self.query"), lin(t, f"{a}.self.key"), lin(t, f"{a}.self.value"), heads_t, bias
        )
        t = ln(lin(ctx, f"{a}.output.dense") + t, f"{a}.output.LayerNorm", 1e-12)
        t = ln(
            lin(F.gelu(lin(t, f"{p}.intermediate.dense")), f"{p}.output.dense") + t,
            f"{p}.output.LayerNorm",
            1e-12,
        )
    text = F.normalize(lin(t[:, 0], "text_proj"), dim=-1)
    return (image * text).sum(-1).tolist()


@pytest.fixture(scope="module")
def bert_tokenizer(tiny_blip: Path):
    from imagearena.scorers.pretrained import pretrained
    from imagearena.scorers.sources import load_tokenizer

    entry = pretrained("blip-large")
    return load_tokenizer(str(tiny_blip), entry.tokenizer_kind, entry.special_tokens)


def test_blip_large_is_the_itc_cosine_of_the_original_checkpoint(
    tiny_blip_large, tiny_blip, bert_tokenizer, images
):
    scorer = create_scorer(
        "blip-large",
        weights=str(tiny_blip_large),
        tokenizer=str(tiny_blip),
        device="cpu",
        dtype="fp32",
        vision_heads=4,
    )
    got = scorer.score(PROMPTS, images)
    expected = reference_itc(tiny_blip_large, bert_tokenizer, PROMPTS, images, heads=4)
    assert got == pytest.approx(expected, abs=2e-6)
    assert max(expected) - min(expected) > 0.05  # the images and prompts are told apart
    # the .pth itself, with the med_config.json beside it
    assert create_scorer(
        "blip-large",
        weights=str(tiny_blip_large / "model_large.pth"),
        tokenizer=str(tiny_blip),
        device="cpu",
        dtype="fp32",
        vision_heads=4,
    ).score(PROMPTS, images) == pytest.approx(got, abs=1e-6)


def test_blip_large_long_prompts_are_cut_at_35_tokens(tiny_blip_large, tiny_blip, images):
    scorer = create_scorer("blip-large", weights=str(tiny_blip_large), tokenizer=str(tiny_blip), device="cpu")
    long = " ".join(["a red car"] * 20)
    assert scorer.score([long], images[:1]) == pytest.approx(scorer.score([long + " on a tree"], images[:1]))


def test_blip_large_checkpoint_errors_say_what_is_wrong(tiny_blip_large, tiny_blip, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    state = original_state(tiny_blip_large)
    del state["text_proj.weight"]
    torch.save({"model": state}, broken / "model_large.pth")
    shutil.copy(tiny_blip_large / "med_config.json", broken)
    with pytest.raises(InputError, match="not a BLIP checkpoint.*text_proj"):
        create_scorer("blip-large", weights=str(broken), tokenizer=str(tiny_blip), device="cpu")
    (broken / "model_large.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot read the BLIP checkpoint"):
        create_scorer("blip-large", weights=str(broken), tokenizer=str(tiny_blip), device="cpu")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default: ImageReward's download folder
    with pytest.raises(InputError, match=r"model_large\.pth is not in .*storage\.googleapis\.com"):
        create_scorer("blip-large", tokenizer=str(tiny_blip), device="cpu")


def test_blip_large_loads_from_the_imagereward_download_folder(
    tiny_blip_large, tiny_blip, tmp_path, monkeypatch, images
):
    home = tmp_path / "home"
    shutil.copytree(tiny_blip_large, home / ".cache" / "ImageReward")
    monkeypatch.setenv("HOME", str(home))
    default = create_scorer("blip-large", tokenizer=str(tiny_blip), device="cpu", dtype="fp32")
    local = create_scorer(
        "blip-large", weights=str(tiny_blip_large), tokenizer=str(tiny_blip), device="cpu", dtype="fp32"
    )
    assert default.score(PROMPTS, images) == local.score(PROMPTS, images)


def test_clip_cosine_is_the_raw_cosine_with_torchvision_pixels(tiny_clip, images):
    """No x100, no clamp at 0, and the clip package's pixels (the grid test pins clip_preprocess to
    torchvision's transforms)."""
    from transformers import AutoTokenizer, CLIPModel

    scorer = create_scorer(
        "clip-cosine", weights=str(tiny_clip), tokenizer=str(tiny_clip), device="cpu", dtype="fp32"
    )
    got = scorer.score(PROMPTS, images)
    model = CLIPModel.from_pretrained(tiny_clip).eval()
    tok = AutoTokenizer.from_pretrained(tiny_clip)
    with torch.no_grad():
        pixels = torch.stack([torch.from_numpy(clip_preprocess(im, 32)) for im in images])
        img = model.get_image_features(pixel_values=pixels)
        txt = model.get_text_features(**tok(PROMPTS, padding=True, return_tensors="pt"))
    img = getattr(img, "pooler_output", img)
    txt = getattr(txt, "pooler_output", txt)
    expected = F.cosine_similarity(img, txt).tolist()
    assert got == pytest.approx(expected, abs=1e-6)
    # the same model as `clip`, unscaled and unclamped: equal where the two crops agree (these images)
    clip = create_scorer("clip", weights=str(tiny_clip), tokenizer=str(tiny_clip), device="cpu", dtype="fp32")
    assert clip.score(PROMPTS, images) == pytest.approx([max(100 * c, 0) for c in got], abs=1e-3)
    # and not where they do not: resized long side minus the crop 3 mod 4
    odd = Image.fromarray(np.random.default_rng(0).integers(0, 256, (35, 32, 3), dtype=np.uint8), "RGB")
    raw = scorer.score(["a dog"], [odd])[0]
    assert clip.score(["a dog"], [odd])[0] != pytest.approx(max(100 * raw, 0), abs=1e-3)


def test_pretrained_entries_name_the_paper_sources():
    from imagearena.scorers.pretrained import CLIP_L14, TORCHVISION, pretrained

    assert (
        pretrained("clip-cosine").weights == CLIP_L14
        and pretrained("clip-cosine").image.reference == TORCHVISION
    )
    entry = pretrained("blip-large")
    assert (entry.weights_file, entry.image.reference) == ("model_large.pth", TORCHVISION)
    assert json.dumps(entry.special_tokens) == json.dumps(pretrained("imagereward").special_tokens)
