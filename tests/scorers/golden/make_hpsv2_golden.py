"""Recipe for tests/scorers/data/hpsv2_tiny_golden.json: HPSv2's own open_clip code on tiny weights.

The HPSv2 scorer maps the open_clip checkpoint onto transformers' CLIP and re-implements the HPSv2
eval transform without torchvision. This golden file holds what HPSv2's vendored open_clip
(``hpsv2/src/open_clip`` of the ``hpsv2x`` 1.2.0 source distribution on PyPI, the same code as
HPSv2's repository and, unlike the ``hpsv2`` wheel, with its BPE vocabulary; torchvision 0.17.2) computes for the same
weights, images and token ids, so the test compares against the original code, not a rewrite.

The weights, images and token ids are pure functions of names and seeds (numpy's legacy
RandomState, stable across versions), so no weight file is committed; the test rebuilds them with
the functions below. Made once, in an environment of its own (VENV is any folder outside the repository)::

    python3.11 -m venv VENV                                        # any env with torch + torchvision
    VENV/bin/pip install torch==2.2.2 torchvision==0.17.2 ftfy regex huggingface_hub numpy pillow clint
    VENV/bin/pip download --no-deps -d SRC hpsv2x==1.2.0 && tar xzf SRC/hpsv2x-1.2.0.tar.gz -C SRC
    PYTHONPATH=SRC/hpsv2x-1.2.0 VENV/bin/python tests/scorers/golden/make_hpsv2_golden.py \\
        tests/scorers/data/hpsv2_tiny_golden.json                  # only hpsv2/src/open_clip is used
"""

from __future__ import annotations

import json
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

VOCAB = 540  # the tiny CLIP tokenizer of tests/scorers/conftest.py: bos 538, eos 539 (the highest id)
CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 48, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": VOCAB, "width": 32, "heads": 4, "layers": 2},
}
IMAGE_SIZES = [(48, 64), (64, 48), (40, 72), (32, 32), (100, 30)]  # (width, height)
TOKEN_ROWS = [[538, 5, 9, 13, 539], [538, 100, 539], [538, *range(20, 33), 539], [538, 7, 7, 539], [538, 539]]
SAMPLE_INDICES = list(range(0, 3 * 32 * 32, 61))  # pixel positions recorded per image


def state_shapes(cfg: dict) -> list[tuple[str, tuple[int, ...]]]:
    """open_clip CLIP state dict keys and shapes for a ViT config (fused qkv, ``x @ proj``)."""
    v, t, d = cfg["vision_cfg"], cfg["text_cfg"], cfg["embed_dim"]
    grid = v["image_size"] // v["patch_size"]
    out: list[tuple[str, tuple[int, ...]]] = [
        ("visual.class_embedding", (v["width"],)),
        ("visual.positional_embedding", (grid * grid + 1, v["width"])),
        ("visual.proj", (v["width"], d)),
        ("visual.conv1.weight", (v["width"], 3, v["patch_size"], v["patch_size"])),
        ("visual.ln_pre.weight", (v["width"],)),
        ("visual.ln_pre.bias", (v["width"],)),
        ("visual.ln_post.weight", (v["width"],)),
        ("visual.ln_post.bias", (v["width"],)),
        ("positional_embedding", (t["context_length"], t["width"])),
        ("text_projection", (t["width"], d)),
        ("logit_scale", ()),
        ("token_embedding.weight", (t["vocab_size"], t["width"])),
        ("ln_final.weight", (t["width"],)),
        ("ln_final.bias", (t["width"],)),
    ]
    for prefix, width, layers in (("visual.", v["width"], v["layers"]), ("", t["width"], t["layers"])):
        for i in range(layers):
            p = f"{prefix}transformer.resblocks.{i}."
            out += [
                (p + "ln_1.weight", (width,)),
                (p + "ln_1.bias", (width,)),
                (p + "attn.in_proj_weight", (3 * width, width)),
                (p + "attn.in_proj_bias", (3 * width,)),
                (p + "attn.out_proj.weight", (width, width)),
                (p + "attn.out_proj.bias", (width,)),
                (p + "ln_2.weight", (width,)),
                (p + "ln_2.bias", (width,)),
                (p + "mlp.c_fc.weight", (4 * width, width)),
                (p + "mlp.c_fc.bias", (4 * width,)),
                (p + "mlp.c_proj.weight", (width, 4 * width)),
                (p + "mlp.c_proj.bias", (width,)),
            ]
    return out


def deterministic_array(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """Values from the key name alone; layer-norm weights near 1, everything else small."""
    values = np.random.RandomState(zlib.crc32(key.encode())).standard_normal(shape).astype(np.float32) * 0.1
    if key.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
        values += 1.0
    if key == "logit_scale":
        values = np.asarray(4.6052, dtype=np.float32)
    return values


def state_dict(cfg: dict = CONFIG) -> dict[str, np.ndarray]:
    return {key: deterministic_array(key, shape) for key, shape in state_shapes(cfg)}


def images() -> list:
    from PIL import Image

    out = []
    for i, (w, h) in enumerate(IMAGE_SIZES):
        pixels = np.random.RandomState(1000 + i).randint(0, 256, (h, w, 3)).astype(np.uint8)
        out.append(Image.fromarray(pixels, "RGB"))
    return out


def token_ids(cfg: dict = CONFIG) -> np.ndarray:
    """Rows padded with 0 to the context length, as open_clip's tokenizer pads."""
    n = cfg["text_cfg"]["context_length"]
    return np.asarray([row + [0] * (n - len(row)) for row in TOKEN_ROWS], dtype=np.int64)


def main(out_path: str) -> None:  # pragma: no cover - runs in the reference environment only
    import torch
    import torchvision
    from hpsv2.src.open_clip import add_model_config, create_model_and_transforms

    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = Path(tmp) / "tiny-hps.json"
        cfg_file.write_text(json.dumps(CONFIG))
        add_model_config(cfg_file)
        model, _, preprocess_val = create_model_and_transforms(
            "tiny-hps",
            None,
            precision="fp32",
            device="cpu",
            jit=False,
            force_quick_gelu=False,
            force_custom_text=False,
            force_patch_dropout=False,
            force_image_size=None,
            pretrained_image=False,
            image_mean=None,
            image_std=None,
            light_augmentation=True,
            aug_cfg={},
            output_dict=True,
            with_score_predictor=False,
            with_region_predictor=False,
        )
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict().items()}, strict=True)
    model.eval()
    pixels = torch.stack([preprocess_val(im) for im in images()])
    with torch.no_grad():
        out = model(pixels, torch.from_numpy(token_ids()))
    img, txt = out["image_features"], out["text_features"]
    flat = pixels.reshape(len(pixels), -1)
    golden = {
        "made_with": {
            "code": "hpsv2x 1.2.0 hpsv2/src/open_clip (create_model_and_transforms, preprocess_val, forward)",
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
        },
        "config": CONFIG,
        "pixel_samples": flat[:, SAMPLE_INDICES].tolist(),
        "pixel_sums": flat.sum(dim=1).tolist(),
        "image_features": img.tolist(),
        "text_features": txt.tolist(),
        "scores": torch.diagonal(img @ txt.T).tolist(),
    }
    Path(out_path).write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {out_path}: scores {golden['scores']}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1])
