"""Tiny random-weight models saved in the official on-disk formats, built once per test session.

Each is loaded by the scorers through the same public path as a real checkpoint (a local folder or
file instead of a hub id). Building them takes a few seconds in total."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tiny_models import clip_tokenizer  # noqa: E402

#: The vision tower of the tiny CLIP and BLIP models: 32 x 32 images in 8 x 8 patches.
TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}
WORDS = ["a", "photo", "of", "cat", "dog", "red", "blue", "car", "house", "tree", "the", "on", "in"]


def write_clip_tokenizer(folder: Path) -> int:
    """A CLIP BPE tokenizer with single characters plus a few whole words; returns its vocab size."""
    tokenizer, vocab_size = clip_tokenizer(folder, WORDS, pad_token="!")
    tokenizer.save_pretrained(folder)
    return vocab_size


def write_clip_preprocessor(folder: Path, size: int) -> None:
    config = {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": size},
        "do_center_crop": True,
        "crop_size": {"height": size, "width": size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "do_convert_rgb": True,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(config))


def tiny_clip_config(vocab_size: int, projection_dim: int = 16):
    from transformers import CLIPConfig

    return CLIPConfig(
        projection_dim=projection_dim,
        logit_scale_init_value=2.6592,
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 16,
            "eos_token_id": vocab_size - 1,
            "bos_token_id": vocab_size - 2,
            "pad_token_id": 0,
        },
        vision_config=dict(TINY_VISION),
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_clip(models_dir: Path) -> Path:
    """A save_pretrained CLIP folder with tokenizer and preprocessor config, like a hub snapshot."""
    from transformers import CLIPModel

    folder = models_dir / "tiny-clip"
    vocab_size = write_clip_tokenizer(folder)
    torch.manual_seed(0)
    CLIPModel(tiny_clip_config(vocab_size)).save_pretrained(folder)
    write_clip_preprocessor(folder, 32)
    return folder


@pytest.fixture(scope="session")
def tiny_blip(models_dir: Path) -> Path:
    from transformers import BertTokenizer, BlipConfig, BlipForImageTextRetrieval

    folder = models_dir / "tiny-blip"
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    config = BlipConfig(
        projection_dim=16,
        image_text_hidden_size=16,
        text_config={
            "vocab_size": 64,
            "hidden_size": 32,
            "encoder_hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 32,
            "bos_token_id": 2,
            "sep_token_id": 3,
            "pad_token_id": 0,
        },
        vision_config=dict(TINY_VISION),
    )
    torch.manual_seed(1)
    model = BlipForImageTextRetrieval(config)
    with torch.no_grad():  # the default init leaves the CLS embedding blind to the image: spread it out
        for name, param in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                param.copy_(1 + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.1 * torch.randn_like(param))
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "BlipImageProcessor",
                "size": {"height": 32, "width": 32},
                "resample": 3,
                "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711],
            }
        )
    )
    return folder


@pytest.fixture(scope="session")
def tiny_aesthetic_head(models_dir: Path) -> Path:
    """The improved-aesthetic-predictor layout (layers.0/2/4/6/7) with a 16-d input like the tiny CLIP."""
    torch.manual_seed(2)
    sizes = [(16, 24), (24, 12), (12, 8), (8, 4), (4, 1)]
    state = {}
    for index, (i, o) in zip((0, 2, 4, 6, 7), sizes, strict=True):
        layer = torch.nn.Linear(i, o)
        state[f"layers.{index}.weight"] = layer.weight.detach().clone()
        state[f"layers.{index}.bias"] = layer.bias.detach().clone()
    folder = models_dir / "aesthetic"
    folder.mkdir()
    torch.save(state, folder / "sac+logos+ava1-l14-linearMSE.pth")
    return folder


OPEN_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 48, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 0, "width": 32, "heads": 4, "layers": 2},
}


def open_clip_state_dict(cfg: dict, seed: int = 3) -> dict[str, torch.Tensor]:
    """Random weights under open_clip's CLIP key names and shapes (nn.MultiheadAttention fused qkv)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=0.1):
        return torch.randn(*shape, generator=g) * scale

    def ln(prefix, width, out):
        out[f"{prefix}.weight"] = 1 + rnd(width)
        out[f"{prefix}.bias"] = rnd(width)

    def blocks(prefix, width, layers, out):
        for i in range(layers):
            p = f"{prefix}transformer.resblocks.{i}"
            ln(f"{p}.ln_1", width, out)
            out[f"{p}.attn.in_proj_weight"] = rnd(3 * width, width)
            out[f"{p}.attn.in_proj_bias"] = rnd(3 * width)
            out[f"{p}.attn.out_proj.weight"] = rnd(width, width)
            out[f"{p}.attn.out_proj.bias"] = rnd(width)
            ln(f"{p}.ln_2", width, out)
            out[f"{p}.mlp.c_fc.weight"] = rnd(4 * width, width)
            out[f"{p}.mlp.c_fc.bias"] = rnd(4 * width)
            out[f"{p}.mlp.c_proj.weight"] = rnd(width, 4 * width)
            out[f"{p}.mlp.c_proj.bias"] = rnd(width)

    v, t, d = cfg["vision_cfg"], cfg["text_cfg"], cfg["embed_dim"]
    grid = v["image_size"] // v["patch_size"]
    s: dict[str, torch.Tensor] = {}
    s["visual.conv1.weight"] = rnd(v["width"], 3, v["patch_size"], v["patch_size"])
    s["visual.class_embedding"] = rnd(v["width"])
    s["visual.positional_embedding"] = rnd(grid * grid + 1, v["width"])
    ln("visual.ln_pre", v["width"], s)
    blocks("visual.", v["width"], v["layers"], s)
    ln("visual.ln_post", v["width"], s)
    s["visual.proj"] = rnd(v["width"], d)
    s["token_embedding.weight"] = rnd(t["vocab_size"], t["width"])
    s["positional_embedding"] = rnd(t["context_length"], t["width"])
    blocks("", t["width"], t["layers"], s)
    ln("ln_final", t["width"], s)
    s["text_projection"] = rnd(t["width"], d)
    s["logit_scale"] = torch.tensor(4.6052)
    return s


@pytest.fixture(scope="session")
def tiny_open_clip(models_dir: Path, tiny_clip: Path) -> tuple[Path, dict]:
    """A folder like the xswu/HPSv2 repo: HPS_v2*_compressed.pt ({"state_dict": ...}) plus an
    open_clip_config.json describing the tiny architecture (the real one is ViT-H-14)."""
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(tiny_clip))
    cfg = json.loads(json.dumps(OPEN_CLIP_CFG))
    cfg["text_cfg"]["vocab_size"] = vocab
    folder = models_dir / "hps"
    folder.mkdir()
    state = open_clip_state_dict(cfg)
    for name in ("HPS_v2_compressed.pt", "HPS_v2.1_compressed.pt"):
        torch.save({"state_dict": {k: v.half() for k, v in state.items()}}, folder / name)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    return folder, cfg


def make_image(width: int, height: int, seed: int) -> Image.Image:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (height, width, 3), generator=g, dtype=torch.uint8)
    return Image.fromarray(pixels.numpy(), "RGB")


@pytest.fixture(scope="session")
def images() -> list[Image.Image]:
    """Odd shapes on purpose: portrait, landscape, square, with even crop margins after resizing."""
    return [make_image(48, 64, 0), make_image(64, 48, 1), make_image(32, 32, 2), make_image(40, 72, 3)]


@pytest.fixture
def image_files(tmp_path: Path, images) -> list[Path]:
    paths = []
    for i, im in enumerate(images):
        path = tmp_path / f"img{i}.png"
        im.save(path)
        paths.append(path)
    return paths


BLIP_LARGE_MED_CONFIG = {  # ImageReward's med_config.json, shrunk (the original overrides encoder_width)
    "architectures": ["BertModel"],
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "max_position_embeddings": 40,
    "vocab_size": 64,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "add_cross_attention": True,
    "encoder_width": 32,
}


def blip_original_state(seed: int = 5) -> dict[str, torch.Tensor]:
    """Random weights under salesforce/BLIP's BLIP_Pretrain key names and shapes (timm ViT with fused
    qkv, BERT text encoder with cross-attention), with the parts ITC never reads: momentum copies,
    queues, the decoder."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    def linear(out: dict, prefix: str, n_out: int, n_in: int) -> None:
        out[f"{prefix}.weight"], out[f"{prefix}.bias"] = rnd(n_out, n_in), rnd(n_out)

    def norm(out: dict, prefix: str, width: int) -> None:
        out[f"{prefix}.weight"], out[f"{prefix}.bias"] = 1 + rnd(width), rnd(width)

    s: dict[str, torch.Tensor] = {}
    width, patch, grid, depth = 32, 8, 4, 2
    s["visual_encoder.cls_token"] = rnd(1, 1, width)
    s["visual_encoder.pos_embed"] = rnd(1, grid * grid + 1, width)
    s["visual_encoder.patch_embed.proj.weight"] = rnd(width, 3, patch, patch)
    s["visual_encoder.patch_embed.proj.bias"] = rnd(width)
    for i in range(depth):
        p = f"visual_encoder.blocks.{i}"
        norm(s, f"{p}.norm1", width)
        linear(s, f"{p}.attn.qkv", 3 * width, width)
        linear(s, f"{p}.attn.proj", width, width)
        norm(s, f"{p}.norm2", width)
        linear(s, f"{p}.mlp.fc1", 64, width)
        linear(s, f"{p}.mlp.fc2", width, 64)
    norm(s, "visual_encoder.norm", width)
    cfg = BLIP_LARGE_MED_CONFIG
    hidden = cfg["hidden_size"]
    s["text_encoder.embeddings.word_embeddings.weight"] = rnd(cfg["vocab_size"], hidden)
    s["text_encoder.embeddings.position_embeddings.weight"] = rnd(cfg["max_position_embeddings"], hidden)
    s["text_encoder.embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"]).expand((1, -1))
    norm(s, "text_encoder.embeddings.LayerNorm", hidden)
    for i in range(cfg["num_hidden_layers"]):
        p = f"text_encoder.encoder.layer.{i}"
        for block, kv_width in (("attention", hidden), ("crossattention", width)):
            linear(s, f"{p}.{block}.self.query", hidden, hidden)
            linear(s, f"{p}.{block}.self.key", hidden, kv_width)
            linear(s, f"{p}.{block}.self.value", hidden, kv_width)
            linear(s, f"{p}.{block}.output.dense", hidden, hidden)
            norm(s, f"{p}.{block}.output.LayerNorm", hidden)
        linear(s, f"{p}.intermediate.dense", cfg["intermediate_size"], hidden)
        linear(s, f"{p}.output.dense", hidden, cfg["intermediate_size"])
        norm(s, f"{p}.output.LayerNorm", hidden)
    linear(s, "vision_proj", 16, width)
    linear(s, "text_proj", 16, hidden)
    linear(s, "itm_head", 2, hidden)
    # what the file also holds and ITC ignores
    s["visual_encoder_m.cls_token"] = rnd(1, 1, width)
    s["text_encoder_m.embeddings.word_embeddings.weight"] = rnd(cfg["vocab_size"], hidden)
    linear(s, "vision_proj_m", 16, width)
    linear(s, "text_proj_m", 16, hidden)
    s["text_decoder.bert.embeddings.word_embeddings.weight"] = rnd(cfg["vocab_size"], hidden)
    s["image_queue"], s["text_queue"] = rnd(16, 8), rnd(16, 8)
    s["ptr_queue"], s["temp"] = torch.zeros(1, dtype=torch.long), torch.tensor(0.07)
    return s


@pytest.fixture(scope="session")
def tiny_blip_large(models_dir: Path) -> Path:
    """A folder like ImageReward's download root: model_large.pth ({"model": ...}) and med_config.json."""
    folder = models_dir / "blip-large"
    folder.mkdir()
    torch.save({"model": blip_original_state()}, folder / "model_large.pth")
    (folder / "med_config.json").write_text(json.dumps(BLIP_LARGE_MED_CONFIG))
    return folder
