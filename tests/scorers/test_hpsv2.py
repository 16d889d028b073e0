"""HPSv2: the open_clip checkpoint mapped onto transformers' CLIP must score exactly like open_clip's
own forward pass. The reference below re-implements that forward (nn.MultiheadAttention with fused
qkv, LND layout, argmax-eot pooling, ``x @ proj``) straight from the open_clip state dict, and the
HPSv2 eval transform (ToTensor, then tensor bicubic antialiased resize, centre crop, normalise)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from imagearena.errors import InputError
from imagearena.scorers import create_scorer
from imagearena.scorers.hf_clip import image_embeddings
from imagearena.scorers.hpsv2 import convert_open_clip_state_dict

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "data" / "hpsv2_tiny_golden.json").read_text())


def golden_recipe():
    spec = importlib.util.spec_from_file_location("hps_golden", HERE / "golden" / "make_hpsv2_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


def hps_transform(image, size):
    """HPSv2's eval transform: ToTensor, ResizeMaxSize (longest side, bicubic on the tensor, zero pad)."""
    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    h, w = x.shape[1:]
    scale = size / max(h, w)
    if scale != 1.0:
        nh, nw = round(h * scale), round(w * scale)
        x = F.interpolate(x[None], size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)[0]
        ph, pw = size - nh, size - nw
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return (x - MEAN) / STD


def resblocks(x, s, prefix, layers, heads, attn_mask=None):
    width = x.shape[-1]
    for i in range(layers):
        p = f"{prefix}transformer.resblocks.{i}."
        mha = torch.nn.MultiheadAttention(width, heads)
        mha.load_state_dict(
            {
                "in_proj_weight": s[p + "attn.in_proj_weight"],
                "in_proj_bias": s[p + "attn.in_proj_bias"],
                "out_proj.weight": s[p + "attn.out_proj.weight"],
                "out_proj.bias": s[p + "attn.out_proj.bias"],
            }
        )
        h = F.layer_norm(x, (width,), s[p + "ln_1.weight"], s[p + "ln_1.bias"])
        x = x + mha(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        h = F.layer_norm(x, (width,), s[p + "ln_2.weight"], s[p + "ln_2.bias"])
        h = F.gelu(F.linear(h, s[p + "mlp.c_fc.weight"], s[p + "mlp.c_fc.bias"]))
        x = x + F.linear(h, s[p + "mlp.c_proj.weight"], s[p + "mlp.c_proj.bias"])
    return x


def open_clip_reference(state, cfg, pixels, tokens):
    s = {k: v.float() for k, v in state.items()}
    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    x = F.conv2d(pixels, s["visual.conv1.weight"], stride=v["patch_size"]).flatten(2).permute(0, 2, 1)
    cls = s["visual.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + s["visual.positional_embedding"]
    x = F.layer_norm(x, (v["width"],), s["visual.ln_pre.weight"], s["visual.ln_pre.bias"])
    x = resblocks(x.permute(1, 0, 2), s, "visual.", v["layers"], v["width"] // v["head_width"]).permute(
        1, 0, 2
    )
    img = F.layer_norm(x[:, 0], (v["width"],), s["visual.ln_post.weight"], s["visual.ln_post.bias"])
    img = img @ s["visual.proj"]

    n = t["context_length"]
    mask = torch.full((n, n), float("-inf")).triu(1)
    y = s["token_embedding.weight"][tokens] + s["positional_embedding"]
    y = resblocks(y.permute(1, 0, 2), s, "", t["layers"], t["heads"], mask).permute(1, 0, 2)
    y = F.layer_norm(y, (t["width"],), s["ln_final.weight"], s["ln_final.bias"])
    txt = y[torch.arange(y.shape[0]), tokens.argmax(dim=-1)] @ s["text_projection"]
    return (F.normalize(img, dim=-1) * F.normalize(txt, dim=-1)).sum(-1)


PROMPTS = ["a photo of a cat", "a red car", "the blue house on the tree", "dog"]


@pytest.mark.parametrize(
    "name,file", [("hpsv2", "HPS_v2_compressed.pt"), ("hpsv2.1", "HPS_v2.1_compressed.pt")]
)
def test_hps_matches_open_clip_forward(name, file, tiny_open_clip, tiny_clip, images):
    folder, cfg = tiny_open_clip
    scorer = create_scorer(name, weights=str(folder), tokenizer=str(tiny_clip), device="cpu", dtype="fp32")
    assert scorer.name == name
    got = scorer.score(PROMPTS, images)

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_clip)
    n = cfg["text_cfg"]["context_length"]
    ids = tok(PROMPTS, padding="max_length", max_length=n, truncation=True)["input_ids"]
    tokens = torch.tensor(
        [
            [0 if m == 0 else i for i, m in zip(row, mask, strict=True)]
            for row, mask in zip(
                ids, tok(PROMPTS, padding="max_length", max_length=n)["attention_mask"], strict=True
            )
        ]
    )
    pixels = torch.stack([hps_transform(im, cfg["vision_cfg"]["image_size"]) for im in images])
    state = torch.load(folder / file)["state_dict"]
    expected = open_clip_reference(state, cfg, pixels, tokens)
    assert got == pytest.approx(expected.tolist(), abs=1e-5)  # same fp16-stored weights, fp32 compute
    assert np.std(got) > 1e-3


def test_checkpoint_file_path_and_config_flag(tiny_open_clip, tiny_clip, images, tmp_path):
    folder, _ = tiny_open_clip
    ckpt = tmp_path / "renamed.pt"
    ckpt.write_bytes((folder / "HPS_v2.1_compressed.pt").read_bytes())
    a = create_scorer(
        "hpsv2.1", weights=str(ckpt), config=str(folder / "open_clip_config.json"), tokenizer=str(tiny_clip)
    )
    b = create_scorer("hpsv2.1", weights=str(folder), tokenizer=str(tiny_clip))
    assert a.score("a cat", images) == pytest.approx(b.score("a cat", images), abs=1e-6)


def test_wrong_config_is_a_clear_error(tiny_open_clip, tiny_clip, tmp_path):
    folder, cfg = tiny_open_clip
    bad = json.loads(json.dumps(cfg))
    bad["vision_cfg"]["layers"] = 3
    (tmp_path / "open_clip_config.json").write_text(json.dumps(bad))
    (tmp_path / "HPS_v2_compressed.pt").write_bytes((folder / "HPS_v2_compressed.pt").read_bytes())
    with pytest.raises(InputError, match="does not match"):
        create_scorer("hpsv2", weights=str(tmp_path), tokenizer=str(tiny_clip))


def test_converter_rejects_foreign_keys():
    with pytest.raises(InputError, match="unexpected keys"):
        convert_open_clip_state_dict({"encoder.layer.0.weight": torch.zeros(1)})


def test_converter_splits_fused_qkv():
    w = torch.arange(12.0).view(6, 2)
    out = convert_open_clip_state_dict({"module.visual.transformer.resblocks.0.attn.in_proj_weight": w})
    assert out["vision_model.encoder.layers.0.self_attn.k_proj.weight"].tolist() == [[4.0, 5.0], [6.0, 7.0]]


def test_matches_hpsv2_original_code(tmp_path, tiny_clip):
    """Against HPSv2's own open_clip (model, preprocess_val, forward) on the same weights and inputs:
    see tests/scorers/golden/make_hpsv2_golden.py for how the golden file was made."""
    recipe = golden_recipe()
    state = {k: torch.from_numpy(v) for k, v in recipe.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "HPS_v2_compressed.pt")
    (tmp_path / "open_clip_config.json").write_text(json.dumps(GOLDEN["config"]))
    scorer = create_scorer(
        "hpsv2", weights=str(tmp_path), tokenizer=str(tiny_clip), device="cpu", dtype="fp32"
    )

    pixels = torch.stack([torch.as_tensor(scorer.prepare_image(im).array) for im in recipe.images()])
    flat = pixels.reshape(len(pixels), -1)
    assert flat[:, recipe.SAMPLE_INDICES].tolist() == [
        pytest.approx(row, abs=1e-5) for row in GOLDEN["pixel_samples"]
    ]
    assert flat.sum(dim=1).tolist() == pytest.approx(GOLDEN["pixel_sums"], abs=1e-2)

    with torch.inference_mode():
        img = image_embeddings(scorer.model, pixels)
        out = scorer.model.get_text_features(input_ids=torch.from_numpy(recipe.token_ids()))
        txt = F.normalize(out.pooler_output.float(), dim=-1)
    assert img.tolist() == [pytest.approx(row, abs=1e-5) for row in GOLDEN["image_features"]]
    assert txt.tolist() == [pytest.approx(row, abs=1e-5) for row in GOLDEN["text_features"]]
    assert (img * txt).sum(-1).tolist() == pytest.approx(GOLDEN["scores"], abs=1e-5)
