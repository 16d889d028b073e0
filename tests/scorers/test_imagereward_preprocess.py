"""The PIL/numpy preprocessing follows torchvision's Resize(int) / CenterCrop / ToTensor / Normalize rules.

End-to-end equality with the original pipeline is covered by the ImageReward golden scores (landscape,
portrait, upscaled, RGBA, grayscale and palette images); these pin the individual rules.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagearena.errors import InputError
from imagearena.scorers.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    center_crop,
    clip_preprocess,
    hf_preprocess,
    load_image,
    normalize,
    resize_short_side,
)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((640, 360), (398, 224)), ((150, 300), (224, 448)), ((224, 500), (224, 500)), ((333, 1000), (224, 672))],
)
def test_short_side_resize_truncates_the_long_side(size, expected):
    assert resize_short_side(Image.new("RGB", size), 224).size == expected


def test_center_crop_offsets_round_like_torchvision():
    ramp = np.tile((np.arange(399)[None, :] % 256).astype(np.uint8), (224, 1))
    cropped = center_crop(Image.fromarray(ramp, "L"), 224)
    assert cropped.size == (224, 224)
    assert np.asarray(cropped)[0, 0] == int(round((399 - 224) / 2.0))  # 87.5 rounds to even: 88


def test_center_crop_pads_small_images_with_zeros():
    out = np.asarray(center_crop(Image.new("L", (100, 50), 255), 224))
    assert out.shape == (224, 224)
    assert out[87, 62] == 255 and out[0, 0] == 0  # pasted at ((224-100)//2, (224-50)//2)
    assert out.sum() == 255 * 100 * 50


def test_normalize_is_float32_to_tensor_then_normalize():
    img = Image.new("RGB", (2, 2), (255, 0, 128))
    arr = normalize(img, CLIP_MEAN, CLIP_STD)
    assert arr.shape == (3, 2, 2) and arr.dtype == np.float32
    expected = (np.float32(128) / np.float32(255) - np.float32(CLIP_MEAN[2])) / np.float32(CLIP_STD[2])
    assert arr[2, 0, 0] == expected
    assert arr[0, 1, 1] == pytest.approx((1 - CLIP_MEAN[0]) / CLIP_STD[0], rel=1e-6)


def test_convert_order_matters_for_rgba():
    """The torchvision pipelines convert to RGB after resizing (alpha dropped, the colour under it kept);
    transformers' processors composite onto white first."""
    rgba = np.zeros((200, 300, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, ::2, 3] = 255  # alternate transparent columns
    img = Image.fromarray(rgba, "RGBA")
    after = clip_preprocess(img)
    first = hf_preprocess(img)
    assert after.shape == first.shape == (3, 224, 224)
    assert not np.allclose(after, first)


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(InputError, match="bad.jpg"):
        load_image(bad)
    with pytest.raises(InputError, match="int"):
        load_image(3)
