"""Each scorer's preprocessing equals its reference pipeline pixel for pixel, over a grid of sizes and modes.

CLIP score, PickScore and BLIP are held against the installed transformers' PIL image processors
(``CLIPImageProcessorPil``, ``BlipImageProcessorPil``: what ``AutoImageProcessor`` gives without
torchvision), built from configs with the real checkpoints' sizes plus one whose resize and crop differ.
ImageReward and the aesthetic predictor are held against torchvision's transforms, written below from
torchvision's own code (0.15 to 0.2x: ``functional.resize`` / ``_compute_resized_output_size``,
``center_crop``, ``to_tensor``, ``normalize`` on PIL images), since torchvision does not import here.
Every comparison is exact: both sides are float32 from the same uint8 pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from imagearena.scorers.hf_clip import pil_pixels, read_image_spec  # noqa: E402
from imagearena.scorers.preprocess import clip_preprocess, hf_preprocess  # noqa: E402
from imagearena.scorers.pretrained import CLIP_MEAN, CLIP_STD, pretrained  # noqa: E402

# SDXL's portrait and landscape (the resized long side minus the crop is 3 mod 4: the two crop
# roundings differ), tiny, odd primes, very wide and very tall, square.
SIZES = [(832, 1216), (1216, 832), (1, 1), (2, 5), (7, 3), (223, 227), (311, 97), (401, 19), (13, 293)]
MODES = ["RGB", "RGBA", "P", "L", "LA", "I;16", "CMYK"]
BANDS = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2, "CMYK": 4, "P": 1}


def make_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    """Random pixels; alpha with fully transparent, opaque and partial values; a palette image with a
    transparent index (and its colour set, so dropping the alpha shows)."""
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        data = rng.integers(0, 65536, (height, width), dtype="<u2")
        return Image.frombytes(mode, (width, height), data.tobytes())
    data = rng.integers(0, 256, (height, width, BANDS[mode]), dtype=np.uint8)
    if mode in ("RGBA", "LA"):
        data[..., -1] = rng.choice(np.array([0, 255, 128, 31], dtype=np.uint8), (height, width))
    image = Image.frombytes(mode, (width, height), data.tobytes())
    if mode == "P":
        image.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        image.info["transparency"] = int(data[0, 0, 0])  # at least one pixel is transparent
    return image


# --- transformers: the installed image processors -----------------------------------------------------


def clip_config(shortest_edge: int, crop: int) -> dict:
    return {
        "image_processor_type": "CLIPImageProcessor",
        "size": {"shortest_edge": shortest_edge},
        "crop_size": {"height": crop, "width": crop},
        "do_center_crop": True,
        "do_resize": True,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
        "resample": 3,
    }


BLIP_CONFIG = {
    "image_processor_type": "BlipImageProcessor",
    "size": {"height": 384, "width": 384},
    "do_resize": True,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "do_convert_rgb": True,
    "image_mean": list(CLIP_MEAN),
    "image_std": list(CLIP_STD),
    "resample": 3,
}

# (scorer whose defaults apply, processor config): CLIP ViT-L/14 and CLIP-H (PickScore's) both ship
# 224/224; a processor resizing to 256 before a 224 crop; BLIP's straight 384 square.
HF_CASES = {
    "clip-224": ("clip", clip_config(224, 224)),
    "pickscore-256-224": ("pickscore", clip_config(256, 224)),
    "blip-384": ("blip", BLIP_CONFIG),
}


@pytest.fixture(scope="module")
def hf_cases(tmp_path_factory) -> dict:
    """Per case: the spec the scorer reads from a folder holding the config, and the processor
    transformers builds from the same folder."""
    import transformers

    out = {}
    for name, (scorer, config) in HF_CASES.items():
        folder = tmp_path_factory.mktemp(name)
        (folder / "preprocessor_config.json").write_text(json.dumps(config))
        processor_cls = getattr(transformers, config["image_processor_type"] + "Pil")
        spec = read_image_spec(str(folder), pretrained(scorer).image)
        out[name] = (spec, processor_cls.from_pretrained(folder))
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_transformers_processors(hf_cases, size, mode):
    image = make_image(mode, *size, seed=size[0] * 7 + size[1])
    for name, (spec, processor) in hf_cases.items():
        expected = processor(images=image.copy(), return_tensors="np")["pixel_values"][0]
        got = pil_pixels(image.copy(), spec)
        assert got.dtype == np.float32 and got.shape == expected.shape, name
        assert np.array_equal(got, expected), (name, float(np.abs(got - expected).max()))


# --- torchvision: the transforms the openai clip package and ImageReward compose ---------------------


def tv_resize(img: Image.Image, size: int) -> Image.Image:
    """``Resize(size, BICUBIC)`` on a PIL image: ``_compute_resized_output_size`` (short side to size,
    long side truncated), the image itself when that is its size, else ``img.resize(size[::-1])``."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if [h, w] == [new_h, new_w]:
        return img
    return img.resize((new_w, new_h), Image.Resampling.BICUBIC)


def tv_center_crop(img: Image.Image, size: int) -> Image.Image:
    """``CenterCrop(size)`` on a PIL image that is at least ``size`` on both sides (always so after
    ``Resize(size)``): offsets ``int(round((h - size) / 2.0))``, then ``img.crop``."""
    w, h = img.size
    assert w >= size and h >= size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def tv_to_tensor_normalize(img: Image.Image, mean, std) -> torch.Tensor:
    """``ToTensor()`` (uint8 HWC -> CHW, ``.to(float32).div(255)``) then ``Normalize`` (``sub_(mean).div_(std)``)."""
    t = torch.from_numpy(np.array(img, np.uint8, copy=True))
    t = t.view(img.size[1], img.size[0], len(img.getbands())).permute((2, 0, 1)).contiguous()
    t = t.to(dtype=torch.float32).div(255)
    m = torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1)
    return t.sub_(m).div_(s)


def torchvision_reference(img: Image.Image, size: int) -> np.ndarray:
    """openai clip's ``_transform(n_px)`` and ImageReward's: Resize, CenterCrop, RGB, ToTensor, Normalize."""
    out = tv_center_crop(tv_resize(img, size), size).convert("RGB")
    return tv_to_tensor_normalize(out, CLIP_MEAN, CLIP_STD).numpy()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_torchvision_transforms(size, mode):
    image = make_image(mode, *size, seed=size[0] * 5 + size[1])
    expected = torchvision_reference(image.copy(), 224)
    for scorer in ("imagereward", "aesthetic", "clip-cosine", "blip-large"):
        got = pil_pixels(image.copy(), pretrained(scorer).image)
        assert got.dtype == np.float32 and got.shape == expected.shape, scorer
        assert np.array_equal(got, expected), (scorer, float(np.abs(got - expected).max()))


def test_aesthetic_keeps_torchvision_sizes_whatever_the_processor_says(tmp_path: Path):
    """The aesthetic head was trained on openai clip's Resize(n) + CenterCrop(n): a CLIP folder whose
    processor resizes to 256 first does not change that."""
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(clip_config(256, 224)))
    spec = read_image_spec(str(tmp_path), pretrained("aesthetic").image)
    assert (spec.size, spec.resize) == (224, None)
    image = make_image("RGB", 832, 1216, seed=1)
    assert np.array_equal(pil_pixels(image, spec), torchvision_reference(image, 224))


def test_the_two_references_differ_where_the_issue_says():
    """Why the scorers keep both: on SDXL's sizes the crop lands one pixel apart, and an RGBA image
    is composited onto white by transformers but not by torchvision."""
    sdxl = make_image("RGB", 832, 1216, seed=2)
    assert not np.array_equal(hf_preprocess(sdxl), clip_preprocess(sdxl))
    shifted = hf_preprocess(sdxl.crop((0, 0, 832, 1214)))  # resized long side 326: both round to 51
    assert np.array_equal(shifted, clip_preprocess(sdxl.crop((0, 0, 832, 1214))))
    rgba = make_image("RGBA", 300, 300, seed=3)
    assert not np.array_equal(hf_preprocess(rgba), clip_preprocess(rgba))


@pytest.mark.parametrize("scorer", ["clip", "pickscore"])
def test_scorer_reads_resize_and_crop_from_its_processor(tiny_clip: Path, tmp_path: Path, scorer):
    """A CLIP folder whose processor resizes to 40 then crops 32: the scorer's prepared pixels are the
    processor's (it used to resize straight to the crop size)."""
    import shutil

    from transformers import CLIPImageProcessorPil

    from imagearena.scorers.clip_score import ClipScore
    from imagearena.scorers.pickscore import PickScore

    folder = tmp_path / "clip-40-32"
    shutil.copytree(tiny_clip, folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(clip_config(40, 32)))
    cls = ClipScore if scorer == "clip" else PickScore
    model = cls(weights=str(folder), tokenizer=str(folder), device="cpu", dtype="fp32")
    processor = CLIPImageProcessorPil.from_pretrained(folder)
    for mode, size in [("RGB", (832, 1216)), ("RGBA", (57, 41)), ("P", (41, 57))]:
        image = make_image(mode, *size, seed=4)
        expected = processor(images=image, return_tensors="np")["pixel_values"][0]
        assert np.array_equal(model.prepare_image(image).array, expected)


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "I;16", "L"])
def test_files_decode_as_the_references_open_them(hf_cases, tmp_path: Path, mode):
    """Scorers read files through imagearena.media; the references through ``Image.open``. A PNG's
    mode and transparency key survive both, so the pixels stay equal."""
    from imagearena.scorers.hf_clip import one_image

    path = tmp_path / f"{mode.replace(';', '')}.png"
    image = make_image(mode, 97, 61, seed=9)
    extra = {"transparency": image.info["transparency"]} if mode == "P" else {}
    image.save(path, **extra)
    spec, processor = hf_cases["clip-224"]
    with Image.open(path) as opened:
        expected = processor(images=opened, return_tensors="np")["pixel_values"][0]
        reference = torchvision_reference(opened, 224)
    assert np.array_equal(one_image(path, spec), expected)
    assert np.array_equal(one_image(path, pretrained("imagereward").image), reference)
