"""The ImageReward network on transformers' BLIP modules, with a lean batched forward pass.

The weights live in ``BlipVisionModel`` and ``BlipTextModel`` (the BLIP text encoder with cross-attention),
so the checkpoint maps onto standard modules; the forward pass is our own because scoring needs far less
than those modules' generic ``forward``: fused scaled-dot-product attention, no attention maps, no caches,
text trimmed to the longest prompt in the batch, and in the last text layer only the [CLS] row, the one
the reward head reads. This module imports torch at import time: load it through ``imagereward``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from transformers import BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

# Vision attention heads are not stored in a checkpoint; BLIP's ViTs (base, large) use 64-wide heads.
VISION_HEAD_DIM = 64
VISION_LAYER_NORM_EPS = 1e-6  # timm's ViT, which the checkpoint was trained with

VISION_RENAMES = [
    (r"^cls_token$", "embeddings.class_embedding"),
    (r"^pos_embed$", "embeddings.position_embedding"),
    (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
    (r"^blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.layer_norm1."),
    (r"^blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.layer_norm2."),
    (r"^blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.self_attn.qkv."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection."),
    (r"^blocks\.(\d+)\.mlp\.", r"encoder.layers.\1.mlp."),
    (r"^norm\.", "post_layernorm."),
]


def split_checkpoint(
    state: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]:
    """Official ImageReward.pt keys -> (BlipVisionModel state, BlipTextModel state, reward head linears).

    Keys the scorer does not use (ITC projections, position-id buffers) are dropped.
    """
    vision: dict[str, torch.Tensor] = {}
    text: dict[str, torch.Tensor] = {}
    head: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("blip.visual_encoder."):
            sub = key.removeprefix("blip.visual_encoder.")
            for pattern, repl in VISION_RENAMES:
                if re.search(pattern, sub):
                    vision[re.sub(pattern, repl, sub)] = value
                    break
        elif key.startswith("blip.text_encoder."):
            sub = key.removeprefix("blip.text_encoder.")
            if not sub.endswith("position_ids") and not sub.startswith("pooler."):
                text[sub] = value
        elif m := re.fullmatch(r"mlp\.layers\.(\d+)\.(weight|bias)", key):
            head.setdefault(int(m.group(1)), {})[m.group(2)] = value
    linears = [(head[i]["weight"], head[i]["bias"]) for i in sorted(head)]
    return vision, text, linears


def vision_config(vision_state: Mapping[str, torch.Tensor], num_heads: int | None = None) -> BlipVisionConfig:
    """BlipVisionConfig with every size read from the weights (the original hard-codes ViT-L/16 @ 224)."""
    from transformers import BlipVisionConfig

    width, _, patch, _ = vision_state["embeddings.patch_embedding.weight"].shape
    positions = vision_state["embeddings.position_embedding"].shape[1]
    grid = round((positions - 1) ** 0.5)
    depth = 1 + max(int(k.split(".")[2]) for k in vision_state if k.startswith("encoder.layers."))
    return BlipVisionConfig(
        hidden_size=width,
        intermediate_size=vision_state["encoder.layers.0.mlp.fc1.weight"].shape[0],
        num_hidden_layers=depth,
        num_attention_heads=num_heads or max(1, width // VISION_HEAD_DIM),
        image_size=grid * patch,
        patch_size=patch,
        hidden_act="gelu",
        layer_norm_eps=VISION_LAYER_NORM_EPS,
    )


def text_config(med_config: Mapping[str, Any], text_state: Mapping[str, torch.Tensor]) -> BlipTextConfig:
    """BlipTextConfig from med_config.json; vocabulary and cross-attention widths come from the weights,
    because the original overrides ``encoder_width`` with the ViT's width and resizes for added tokens."""
    from transformers import BlipTextConfig

    vocab, hidden = text_state["embeddings.word_embeddings.weight"].shape
    return BlipTextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        encoder_hidden_size=text_state["encoder.layer.0.crossattention.self.key.weight"].shape[1],
        intermediate_size=text_state["encoder.layer.0.intermediate.dense.weight"].shape[0],
        num_hidden_layers=1 + max(int(k.split(".")[2]) for k in text_state if k.startswith("encoder.layer.")),
        num_attention_heads=int(med_config.get("num_attention_heads", 12)),
        max_position_embeddings=text_state["embeddings.position_embeddings.weight"].shape[0],
        hidden_act=med_config.get("hidden_act", "gelu"),
        layer_norm_eps=float(med_config.get("layer_norm_eps", 1e-12)),
        pad_token_id=int(med_config.get("pad_token_id", 0)),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        is_decoder=True,  # builds the cross-attention blocks; the forward below is bidirectional
    )


class RewardHead(nn.Module):
    """The original MLP head: a chain of Linear layers (768-1024-128-64-16-1) with no activations."""

    def __init__(self, linears: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for weight, bias in linears:
            layer = nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                layer.weight.copy_(weight)
                layer.bias.copy_(bias)
            self.layers.append(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class ImageRewardNet(nn.Module):
    """BLIP ViT + BLIP text encoder with cross-attention + reward head; ``forward`` returns raw rewards."""

    def __init__(self, vision: BlipVisionModel, text: BlipTextModel, head: RewardHead) -> None:
        super().__init__()
        # transformers' module trees, walked by attribute name below: typed loosely on purpose
        self.vision: Any = vision
        self.text: Any = text
        self.head = head
        self.vision_heads = vision.config.num_attention_heads
        self.text_heads = text.config.num_attention_heads
        from transformers.activations import ACT2FN

        self.text_act = ACT2FN[text.config.hidden_act]
        self.vision_act = ACT2FN[vision.config.hidden_act]

    @classmethod
    def from_checkpoint(
        cls, state: Mapping[str, torch.Tensor], med_config: Mapping[str, Any], vision_heads: int | None = None
    ) -> ImageRewardNet:
        from transformers import BlipTextModel, BlipVisionModel

        vision_state, text_state, linears = split_checkpoint(state)
        missing = [
            name
            for name, part in (
                ("vision encoder", vision_state),
                ("text encoder", text_state),
                ("head", linears),
            )
            if not part
        ]
        if missing:
            raise KeyError(f"checkpoint has no {', '.join(missing)} weights")
        with torch.device("meta"):  # no random init of ~430M parameters that the checkpoint overwrites
            vision = BlipVisionModel(vision_config(vision_state, vision_heads))
            text = BlipTextModel(text_config(med_config, text_state), add_pooling_layer=False)
        for module, part in ((vision, vision_state), (text, text_state)):
            result = module.load_state_dict(part, strict=False, assign=True)
            if result.missing_keys or result.unexpected_keys:
                raise KeyError(
                    f"checkpoint does not match the architecture: missing {result.missing_keys[:5]}, "
                    f"unexpected {result.unexpected_keys[:5]}"
                )
        positions = text.config.max_position_embeddings
        # a buffer, not in checkpoints
        text.embeddings.register_buffer(
            "position_ids", torch.arange(positions).expand((1, -1)), persistent=False
        )
        return cls(vision, text, RewardHead(linears)).eval()

    @property
    def image_size(self) -> int:
        return int(self.vision.config.image_size)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pre-norm ViT: (B, 3, S, S) -> (B, 1 + patches, width) after the final layer norm."""
        emb = self.vision.embeddings
        x = emb.patch_embedding(pixels.to(emb.patch_embedding.weight.dtype)).flatten(2).transpose(1, 2)
        cls_tok = emb.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls_tok, x], dim=1) + emb.position_embedding[:, : x.shape[1] + 1]
        batch, tokens, width = x.shape
        heads = self.vision_heads
        for layer in self.vision.encoder.layers:
            h = layer.layer_norm1(x)
            qkv = layer.self_attn.qkv(h).view(batch, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
            x = x + layer.self_attn.projection(a.transpose(1, 2).reshape(batch, tokens, width))
            h = layer.layer_norm2(x)
            x = x + layer.mlp.fc2(self.vision_act(layer.mlp.fc1(h)))
        out: torch.Tensor = self.vision.post_layernorm(x)
        return out

    def _attend(
        self, block: Any, queries: torch.Tensor, states: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """One BERT attention block (projections, SDPA, output dense, residual + LayerNorm)."""
        attn = block.self
        batch, q_len, hidden = queries.shape
        heads = self.text_heads
        q = attn.query(queries).view(batch, q_len, heads, -1).transpose(1, 2)
        k = attn.key(states).view(batch, states.shape[1], heads, -1).transpose(1, 2)
        v = attn.value(states).view(batch, states.shape[1], heads, -1).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        a = a.transpose(1, 2).reshape(batch, q_len, hidden)
        out: torch.Tensor = block.output.LayerNorm(block.output.dense(a) + queries)
        return out

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor
    ) -> torch.Tensor:
        """[CLS] features of the text encoder cross-attending to the image tokens: (B, hidden)."""
        emb = self.text.embeddings
        positions = emb.position_ids[:, : input_ids.shape[1]]
        x = emb.LayerNorm(emb.word_embeddings(input_ids) + emb.position_embeddings(positions))
        x = x.to(image_embeds.dtype)
        # Padding keys are masked out; the original's additive -10000 underflows to the same zero weight.
        mask = None if bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
        layers = self.text.encoder.layer
        for i, layer in enumerate(layers):
            queries = x[:, :1] if i == len(layers) - 1 else x  # the head reads only [CLS]
            h = self._attend(layer.attention, queries, x, mask)
            h = self._attend(layer.crossattention, h, image_embeds, None)
            x = layer.output.LayerNorm(layer.output.dense(self.text_act(layer.intermediate.dense(h))) + h)
        cls_features: torch.Tensor = x[:, 0]
        return cls_features

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pixels: torch.Tensor
    ) -> torch.Tensor:
        """Raw (unnormalised) rewards, float32, shape (B,)."""
        features = self.encode_text(input_ids, attention_mask, self.encode_images(pixels))
        rewards: torch.Tensor = self.head(features.float()).squeeze(-1)
        return rewards
