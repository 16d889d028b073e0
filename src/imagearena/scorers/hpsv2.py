"""HPSv2 / HPSv2.1: an open_clip ViT-H-14 fine-tuned on human preferences; the score is the cosine
between the image and prompt embeddings (about 0.2 to 0.35).

open_clip itself cannot be used here: ``import open_clip`` imports torchvision at module level
(its transform module), and torchvision is not importable against every torch build this package
supports. So the official open_clip checkpoint (``{"state_dict": ...}``, as in the hub repo
xswu/HPSv2) is mapped key by key onto transformers' ``CLIPModel``, which has the same pre-norm
ViT / causal text transformer with exact GELU; nothing but the tensor layout changes.
Preprocessing follows the transform HPSv2's ``score()`` builds (``light_augmentation=True``):
ToTensor first, then ResizeMaxSize: a bicubic antialiased resize of the float tensor so the
longest side is 224, zero padding to a square, then CLIP mean/std. Checked against HPSv2's own
code in tests/scorers/test_hpsv2.py (golden file and its recipe).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError
from imagearena.scorers.base import pick_device, pick_dtype, require_score_extra
from imagearena.scorers.hf_clip import PixelScorer, image_embeddings, pixel_batch, text_embeddings
from imagearena.scorers.pretrained import pretrained
from imagearena.scorers.sources import load_tokenizer, resolve_source

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

VERSIONS = {"v2.0": "hpsv2", "v2.1": "hpsv2.1"}  # registered name of each HPS release
CONFIG_FILE = "open_clip_config.json"

# open_clip's model_configs/ViT-H-14.json: what the HPS checkpoints were trained with.
VIT_H_14: dict[str, Any] = {
    "embed_dim": 1024,
    "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24},
}


def read_open_clip_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model_cfg, preprocess_cfg) from an open_clip config file: either the hub layout
    ``{"model_cfg": ..., "preprocess_cfg": ...}`` or a bare model config like ViT-H-14.json."""
    data = json.loads(path.read_text())
    if "model_cfg" in data:
        return data["model_cfg"], data.get("preprocess_cfg", {})
    return data, {}


def clip_config_from_open_clip(model_cfg: dict[str, Any], eos_token_id: int | None = None) -> Any:
    """A transformers ``CLIPConfig`` with the same shapes as an open_clip model config."""
    from transformers import CLIPConfig

    vision, text = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    unsupported = [k for k in ("ls_init_value", "attentional_pool", "input_patchnorm") if vision.get(k)]
    unsupported += [k for k in ("hf_model_name", "ls_init_value") if text.get(k)]
    if unsupported or vision.get("timm_model_name"):
        raise InputError(
            f"open_clip features not supported by the HPSv2 loader: {unsupported or 'timm tower'}"
        )
    act = "quick_gelu" if model_cfg.get("quick_gelu") else "gelu"
    v_width, t_width = int(vision["width"]), int(text["width"])
    mlp_ratio_v, mlp_ratio_t = float(vision.get("mlp_ratio", 4.0)), float(text.get("mlp_ratio", 4.0))
    vocab = int(text.get("vocab_size", 49408))
    return CLIPConfig(
        projection_dim=int(model_cfg["embed_dim"]),
        text_config={
            "vocab_size": vocab,
            "hidden_size": t_width,
            "intermediate_size": int(t_width * mlp_ratio_t),
            "num_hidden_layers": int(text["layers"]),
            "num_attention_heads": int(text.get("heads", 8)),
            "max_position_embeddings": int(text.get("context_length", 77)),
            "hidden_act": act,
            "layer_norm_eps": 1e-5,
            # the eot token pools the text; open_clip takes argmax(ids), the highest id = eot
            "eos_token_id": eos_token_id if eos_token_id is not None else vocab - 1,
            "bos_token_id": vocab - 2,
            "pad_token_id": 0,
        },
        vision_config={
            "hidden_size": v_width,
            "intermediate_size": int(v_width * mlp_ratio_v),
            "num_hidden_layers": int(vision["layers"]),
            "num_attention_heads": v_width // int(vision.get("head_width", 64)),
            "image_size": int(vision["image_size"]),
            "patch_size": int(vision["patch_size"]),
            "hidden_act": act,
            "layer_norm_eps": 1e-5,
        },
    )


_BLOCK = re.compile(r"^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$")
_BLOCK_PARTS = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "attn.out_proj": "self_attn.out_proj",
}
_PLAIN = {
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
    "logit_scale": "logit_scale",
}
_IGNORED = {"attn_mask"}  # a derived buffer some open_clip versions save


def convert_open_clip_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """open_clip CLIP keys -> transformers CLIPModel keys. Fused qkv projections are split, and the
    ``x @ proj`` matrices become ``nn.Linear`` weights (transposed)."""
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key in _IGNORED:
            continue
        if key in _PLAIN:
            out[_PLAIN[key]] = value
        elif key == "visual.proj":
            out["visual_projection.weight"] = value.t().contiguous()
        elif key == "text_projection":
            out["text_projection.weight"] = value.t().contiguous()
        elif match := _BLOCK.match(key):
            tower = "vision_model" if match.group(1) else "text_model"
            prefix = f"{tower}.encoder.layers.{match.group(2)}."
            rest = match.group(3)
            if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
                kind = rest.rsplit("_", 1)[1]
                for name, part in zip(("q", "k", "v"), value.chunk(3, dim=0), strict=True):
                    out[f"{prefix}self_attn.{name}_proj.{kind}"] = part.contiguous()
                continue
            module, _, param = rest.rpartition(".")
            if module not in _BLOCK_PARTS:
                unknown.append(key)
                continue
            out[f"{prefix}{_BLOCK_PARTS[module]}.{param}"] = value
        else:
            unknown.append(key)
    if unknown:
        raise InputError(f"not an open_clip ViT CLIP checkpoint: unexpected keys {unknown[:5]}")
    return out


def load_open_clip_as_hf(
    checkpoint: Path, model_cfg: dict[str, Any], dtype: torch.dtype, eos_token_id: int | None = None
) -> Any:
    """Build a transformers CLIPModel holding an open_clip checkpoint's weights."""
    import torch
    from transformers import CLIPModel

    try:
        blob = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise InputError(f"cannot read {checkpoint} as a torch checkpoint: {exc}") from exc
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise InputError(f"{checkpoint} holds no state dict")
    converted = convert_open_clip_state_dict(state)
    config = clip_config_from_open_clip(model_cfg, eos_token_id)
    with torch.device("meta"):  # no random init of a billion parameters that are overwritten anyway
        model = CLIPModel(config)
    result = model.load_state_dict({k: v.to(dtype) for k, v in converted.items()}, strict=False, assign=True)
    if result.missing_keys or result.unexpected_keys:
        raise InputError(
            f"{checkpoint} does not match the model config (missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}): pass the matching {CONFIG_FILE}"
        )
    for name, buf in list(model.named_buffers()):
        if buf.is_meta:  # non-persistent position ids
            module_name, _, attr = name.rpartition(".")
            module = model.get_submodule(module_name)
            module.register_buffer(attr, torch.arange(buf.shape[-1]).expand(buf.shape), persistent=False)
    return model.eval()  # type: ignore[no-untyped-call]


class HPSv2(PixelScorer):
    name = "hpsv2"
    version = "v2.0"

    def __init__(
        self,
        weights: str | None = None,
        tokenizer: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
        version: str | None = None,
        config: str | None = None,
    ) -> None:
        require_score_extra("the HPSv2 scorer")
        version = version or self.version
        if version not in VERSIONS:
            raise InputError(f"unknown HPS version {version!r}: use one of {', '.join(VERSIONS)}")
        self.name = VERSIONS[version]
        source = pretrained(self.name)
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.batch_size = batch_size
        checkpoint = resolve_source(weights or source.weights).file(str(source.weights_file))
        model_cfg: dict[str, Any] = VIT_H_14
        preprocess_cfg: dict[str, Any] = {}
        config_path = Path(config) if config else checkpoint.parent / CONFIG_FILE
        if config or config_path.is_file():
            if not config_path.is_file():
                raise InputError(f"open_clip config not found at {config_path}")
            model_cfg, preprocess_cfg = read_open_clip_config(config_path)
        self.tokenizer = load_tokenizer(
            str(tokenizer or source.tokenizer), source.tokenizer_kind, source.special_tokens
        )
        self.model = load_open_clip_as_hf(checkpoint, model_cfg, self.dtype, self.tokenizer.eos_token_id)
        self.model.to(self.device)
        self.spec = replace(
            source.image,
            size=int(preprocess_cfg.get("size", model_cfg["vision_cfg"]["image_size"])),
            mean=tuple(float(v) for v in preprocess_cfg.get("mean", source.image.mean)),
            std=tuple(float(v) for v in preprocess_cfg.get("std", source.image.std)),
        )

    def _score_batch(self, prompts: Sequence[str], images: Sequence[Image]) -> torch.Tensor:
        img = image_embeddings(self.model, pixel_batch(images, self.spec, self.device, self.dtype))
        txt = text_embeddings(self.model, self.tokenizer, prompts, self.device)
        return (img * txt).sum(dim=-1)


class HPSv21(HPSv2):
    version = "v2.1"
