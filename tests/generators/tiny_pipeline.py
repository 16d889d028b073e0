"""Builds a random-weight Stable Diffusion pipeline offline and saves it with ``save_pretrained``, so the
diffusers generator loads it through the same code path as a real checkpoint folder.

The tests use the tiny shape: UNet, VAE and CLIP text encoder of a few thousand parameters, images 16 x 16
by default (sample_size 8 times the VAE's factor 2; any multiple of 8 works). benchmarks/bench_diffusers.py
also builds the full SD 1.5 shape. The tokenizer is CLIP's BPE over single byte characters (no merges),
from tests/tiny_models.py.
"""

from __future__ import annotations

from pathlib import Path

from tiny_models import clip_tokenizer

#: Component shapes: "tiny" for tests (a few thousand parameters, 16 x 16 images by default), "sd15" with
#: Stable Diffusion 1.5's UNet, VAE and CLIP ViT-L/14 text encoder (random weights: the same compute).
SHAPES: dict[str, dict[str, object]] = {
    "tiny": {
        "unet": {
            "block_out_channels": (8, 16),
            "layers_per_block": 1,
            "sample_size": 8,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
            "cross_attention_dim": 16,
            "norm_num_groups": 4,
            "attention_head_dim": 4,
        },
        "vae": {
            "block_out_channels": [8, 16],
            "down_block_types": ["DownEncoderBlock2D"] * 2,
            "up_block_types": ["UpDecoderBlock2D"] * 2,
            "norm_num_groups": 4,
            "sample_size": 16,
        },
        "text": {
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        "max_tokens": 16,
    },
    "sd15": {
        "unet": {
            "block_out_channels": (320, 640, 1280, 1280),
            "layers_per_block": 2,
            "sample_size": 64,
            "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            "cross_attention_dim": 768,
            "attention_head_dim": 8,
        },
        "vae": {
            "block_out_channels": [128, 256, 512, 512],
            "layers_per_block": 2,
            "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4,
            "sample_size": 512,
        },
        "text": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "hidden_act": "quick_gelu",
        },
        "max_tokens": 77,
    },
}


def build_tiny_sd(folder: Path, *, shape: str = "tiny") -> Path:
    """Write a StableDiffusionPipeline folder (model_index.json and one folder per component) of the
    given SHAPES entry into ``folder/<shape>-sd``, and return that folder."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    spec = SHAPES[shape]
    max_tokens = int(spec["max_tokens"])
    tokenizer, vocab_size = clip_tokenizer(
        folder / "tokenizer-source", pad_token="<|endoftext|>", model_max_length=max_tokens
    )
    torch.manual_seed(0)
    unet = UNet2DConditionModel(in_channels=4, out_channels=4, **spec["unet"])
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, **spec["vae"])
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            max_position_embeddings=max_tokens,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
            **spec["text"],
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = folder / f"{shape}-sd"
    pipeline.save_pretrained(out)
    return out
