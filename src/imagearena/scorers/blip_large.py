"""The ImageReward paper's BLIP baseline: the image-text contrastive (ITC) cosine of BLIP-large, read
from salesforce/BLIP's original ``model_large.pth`` (range -1 to 1), as ImageReward's ``BLIPScore`` computes it.

The original checkpoint (``{"model": state_dict}``, keys ``visual_encoder.*``, ``text_encoder.*``,
``vision_proj``, ``text_proj``, ``itm_head``, plus momentum encoders, queues and a decoder that ITC
does not read) is mapped key by key onto transformers' ``BlipForImageTextRetrieval``, whose
``use_itm_head=False`` output is that cosine. Sizes are read from the weights (ViT-L/16 at 224 for
the released file), the text encoder's from ImageReward's ``med_config.json``. The reference
preprocesses with torchvision (short side to 224, centre crop, RGB last) and truncates prompts to
35 BERT tokens; so does this scorer.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError
from imagearena.scorers.base import pick_device, pick_dtype, require_score_extra
from imagearena.scorers.blip_score import BlipScore
from imagearena.scorers.pretrained import Pretrained, pretrained
from imagearena.scorers.sources import load_tokenizer, resolve_source

if TYPE_CHECKING:
    import torch

SOURCE: Pretrained = pretrained("blip-large")
CHECKPOINT_FILE = str(SOURCE.weights_file)
MED_CONFIG_FILE = "med_config.json"
MED_CONFIG_SOURCE = "THUDM/ImageReward"  # where ImageReward's load_score takes it from
DOWNLOAD_URL = "https://storage.googleapis.com/sfr-vision-language-research/BLIP/models/model_large.pth"
MAX_TEXT_LENGTH = 35  # BLIPScore's tokenizer call

PathName = str | os.PathLike[str]


def resolve_files(weights: PathName | None, med_config: PathName | None) -> tuple[Path, Path]:
    """(checkpoint, med_config.json). ``weights``: the file, a folder or hub repo holding
    ``model_large.pth``; ``None`` is ImageReward's download folder (``~/.cache/ImageReward``), where
    its ``load_score("BLIP")`` leaves the file. The med_config is ``med_config``, else the one beside
    the checkpoint, else ImageReward's."""
    if weights is None:
        root = Path(SOURCE.weights).expanduser()
        if not (root / CHECKPOINT_FILE).is_file():
            raise InputError(
                f"BLIP-large's {CHECKPOINT_FILE} is not in {root} (where ImageReward downloads it): "
                f"download {DOWNLOAD_URL} there, or pass --weights (the file, a folder or a hub repo holding it)"
            )
        weights = root
    checkpoint = resolve_source(weights).file(CHECKPOINT_FILE)
    if med_config is not None:
        med = Path(med_config).expanduser()
        if not med.is_file():
            raise InputError(f"med_config file not found: {med}")
        return checkpoint, med
    beside = checkpoint.parent / MED_CONFIG_FILE
    return checkpoint, beside if beside.is_file() else resolve_source(MED_CONFIG_SOURCE).file(MED_CONFIG_FILE)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The state dict of an original BLIP checkpoint (``{"model": ...}`` or a bare state dict)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or pickled objects beyond tensors and plain data
        raise InputError(f"cannot read the BLIP checkpoint {path}: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise InputError(f"{path} is not a BLIP state dict")
    return state


def retrieval_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original BLIP keys -> ``BlipForImageTextRetrieval`` keys; what ITC and ITM do not use (momentum
    encoders ``*_m``, queues, the text decoder, position-id buffers) is dropped."""
    from imagearena.scorers.imagereward_net import VISION_RENAMES

    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("visual_encoder."):
            sub = key.removeprefix("visual_encoder.")
            for pattern, repl in VISION_RENAMES:
                if re.search(pattern, sub):
                    out["vision_model." + re.sub(pattern, repl, sub)] = value
                    break
        elif key.startswith("text_encoder."):
            sub = key.removeprefix("text_encoder.")
            if not sub.endswith("position_ids") and not sub.startswith("pooler."):
                out[key] = value
        elif key.split(".")[0] in {"vision_proj", "text_proj", "itm_head"}:
            out[key] = value
    return out


def build_model(
    state: Mapping[str, torch.Tensor], med_config: Mapping[str, Any], vision_heads: int | None = None
) -> Any:
    """``BlipForImageTextRetrieval`` holding an original checkpoint's weights, in eval mode."""
    import torch
    from transformers import BlipConfig, BlipForImageTextRetrieval

    from imagearena.scorers.imagereward_net import text_config, vision_config

    mapped = retrieval_state(state)
    vision = {k.removeprefix("vision_model."): v for k, v in mapped.items() if k.startswith("vision_model.")}
    text = {k.removeprefix("text_encoder."): v for k, v in mapped.items() if k.startswith("text_encoder.")}
    absent = [name for name in ("vision_proj.weight", "text_proj.weight") if name not in mapped]
    if not vision or not text or absent:
        raise KeyError("expected visual_encoder.*, text_encoder.*, vision_proj and text_proj weights")
    text_cfg = text_config(med_config, text)
    config = BlipConfig(
        text_config=text_cfg.to_dict(),
        vision_config=vision_config(vision, vision_heads).to_dict(),
        image_text_hidden_size=int(mapped["vision_proj.weight"].shape[0]),
    )
    with torch.device("meta"):  # no random init of weights the checkpoint overwrites
        model: Any = BlipForImageTextRetrieval(config)
    if "itm_head.weight" not in mapped:  # not read by ITC; a checkpoint without it still loads
        mapped["itm_head.weight"] = torch.zeros(2, text_cfg.hidden_size)
        mapped["itm_head.bias"] = torch.zeros(2)
    result = model.load_state_dict(mapped, strict=False, assign=True)
    if result.missing_keys or result.unexpected_keys:
        raise KeyError(
            f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]} "
            "for BLIP's architecture"
        )
    for module in model.modules():  # buffers no checkpoint stores
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer.is_meta and name == "position_ids":
                module.register_buffer(name, torch.arange(buffer.shape[-1]).expand((1, -1)), persistent=False)
    left = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise KeyError(f"no weights for {left[:5]}")
    model.eval()
    return model


class BlipLargeScore(BlipScore):
    """ITC cosine of BLIP-large from its original checkpoint (the ``blip`` scorer reads transformers
    folders of the COCO-finetuned base model instead)."""

    name = "blip-large"

    def __init__(
        self,
        weights: PathName | None = None,
        tokenizer: PathName | None = None,
        med_config: PathName | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
        vision_heads: int | None = None,
    ) -> None:
        require_score_extra("the BLIP-large scorer")
        from dataclasses import replace

        checkpoint, med = resolve_files(weights, med_config)  # the weights first: they matter most
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(
            tokenizer or str(SOURCE.tokenizer), SOURCE.tokenizer_kind, SOURCE.special_tokens
        )
        try:
            med_dict = json.loads(med.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {med}: {exc}") from None
        try:
            model = build_model(read_checkpoint(checkpoint), med_dict, vision_heads)
        except (KeyError, ValueError, RuntimeError) as exc:
            reason = exc.args[0] if exc.args else type(exc).__name__
            raise InputError(f"{checkpoint} is not a BLIP checkpoint: {reason}") from None
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.spec = replace(SOURCE.image, size=int(model.config.vision_config.image_size))
        self.max_length = MAX_TEXT_LENGTH
