"""What each built-in scorer loads by default, as data: its weights, tokenizer and preprocessing.

One entry per registered name, like open_clip's pretrained tags. A scorer reads its entry for the
defaults and loads each part through imagearena.scorers.sources.resolve_source, so a hub id, an
``hf-hub:`` name and a local path work alike for every part. A checkpoint's own preprocessing config
(a transformers ``preprocessor_config.json``, an open_clip ``preprocess_cfg``) overrides ``image``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# OpenAI CLIP's normalisation, which every built-in scorer's vision tower was trained with.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

CLIP_L14 = "openai/clip-vit-large-patch14"
# Which library's preprocessing a checkpoint was trained (and scored, in its reference code) with.
TRANSFORMERS = "transformers"
TORCHVISION = "torchvision"
CLIP_H14_TOKENIZER = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


@dataclass(frozen=True)
class ImageSpec:
    """How a checkpoint wants its pixels: side length, crop mode and normalisation.

    ``size`` is the side of the model's input. ``crop=True`` is CLIP's short-side resize (to
    ``resize``, default ``size``) then centre crop; ``crop=False`` resizes straight to a square (BLIP).
    ``reference`` picks whose arithmetic to reproduce: ``transformers`` (an image processor: RGB on
    white first, crop offsets rounded down, float64 rescale) or ``torchvision`` (RGB last, offsets
    rounded half to even); see imagearena.scorers.preprocess. ``resample`` is PIL's filter number
    (3, bicubic). ``tensor_resize=True`` resizes the float tensor instead of the PIL image, as
    open_clip's HPSv2 transform does (ToTensor before Resize); with ``pad_longest`` the longest side
    is resized and the rest zero-padded instead of cropped (HPSv2's ResizeMaxSize)."""

    size: int = 224
    crop: bool = True
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    tensor_resize: bool = False
    reference: str = TRANSFORMERS
    pad_longest: bool = False
    resize: int | None = None
    resample: int = 3
    rescale: float = 1 / 255


@dataclass(frozen=True)
class Pretrained:
    """A built-in scorer's default sources and preprocessing.

    ``layout`` names the on-disk format of ``weights`` (what a test builds a tiny model in):
    ``hf-clip`` and ``hf-blip`` are transformers folders, ``aesthetic-head`` a torch state dict read
    on top of the CLIP ``backbone``, ``open-clip`` an open_clip checkpoint, ``imagereward`` the
    official ImageReward.pt with its med_config.json, ``blip-original`` salesforce/BLIP's own
    checkpoint format. ``weights_file`` is the file inside a hub repo
    or folder for single-file checkpoints; ``tokenizer`` None means the tokenizer travels with the
    weights; ``special_tokens`` are added to it in order."""

    layout: str
    weights: str
    weights_file: str | None = None
    tokenizer: str | None = None
    tokenizer_kind: str = "AutoTokenizer"
    special_tokens: tuple[tuple[str, object], ...] = ()
    backbone: str | None = None
    image: ImageSpec = field(default_factory=ImageSpec)


PRETRAINED: dict[str, Pretrained] = {
    "clip": Pretrained(layout="hf-clip", weights=CLIP_L14),
    # the ImageReward paper's CLIP baseline embeds with the clip package: its torchvision transform
    "clip-cosine": Pretrained(layout="hf-clip", weights=CLIP_L14, image=ImageSpec(reference=TORCHVISION)),
    # the fine-tune ships no tokenizer or preprocessor config: those of the CLIP-H it started from
    "pickscore": Pretrained(
        layout="hf-clip", weights="yuvalkirstain/PickScore_v1", tokenizer=CLIP_H14_TOKENIZER
    ),
    "blip": Pretrained(
        layout="hf-blip", weights="Salesforce/blip-itm-base-coco", image=ImageSpec(crop=False)
    ),
    # the ImageReward paper's BLIP baseline: salesforce/BLIP's original pretrained BLIP-large file, not on
    # the hub; the default is where ImageReward's load_score("BLIP") downloads it. Tokenizer and pixels
    # as ImageReward's (bert-base-uncased with [DEC] and [ENC]; torchvision, RGB last)
    "blip-large": Pretrained(
        layout="blip-original",
        weights="~/.cache/ImageReward",
        weights_file="model_large.pth",
        tokenizer="bert-base-uncased",
        tokenizer_kind="BertTokenizer",
        special_tokens=(("bos_token", "[DEC]"), ("additional_special_tokens", ["[ENC]"])),
        image=ImageSpec(reference=TORCHVISION),
    ),
    # the original embeds with the openai clip package: torchvision transforms, RGB conversion last
    "aesthetic": Pretrained(
        layout="aesthetic-head",
        weights="camenduru/improved-aesthetic-predictor",
        weights_file="sac+logos+ava1-l14-linearMSE.pth",
        backbone=CLIP_L14,
        image=ImageSpec(reference=TORCHVISION),
    ),
    "hpsv2": Pretrained(
        layout="open-clip",
        weights="xswu/HPSv2",
        weights_file="HPS_v2_compressed.pt",
        tokenizer=CLIP_H14_TOKENIZER,
        image=ImageSpec(crop=False, tensor_resize=True, pad_longest=True),
    ),
    "hpsv2.1": Pretrained(
        layout="open-clip",
        weights="xswu/HPSv2",
        weights_file="HPS_v2.1_compressed.pt",
        tokenizer=CLIP_H14_TOKENIZER,
        image=ImageSpec(crop=False, tensor_resize=True, pad_longest=True),
    ),
    # the original's BLIP text encoder: bert-base-uncased with [DEC] as BOS and [ENC] added, in that order
    "imagereward": Pretrained(
        layout="imagereward",
        weights="THUDM/ImageReward",
        weights_file="ImageReward.pt",
        tokenizer="bert-base-uncased",
        tokenizer_kind="BertTokenizer",
        special_tokens=(("bos_token", "[DEC]"), ("additional_special_tokens", ["[ENC]"])),
        image=ImageSpec(reference=TORCHVISION),
    ),
}


def pretrained(name: str) -> Pretrained:
    """The default sources of the built-in scorer ``name``."""
    return PRETRAINED[name]


def list_pretrained() -> list[str]:
    return sorted(PRETRAINED)
