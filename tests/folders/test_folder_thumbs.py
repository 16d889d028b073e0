"""Thumbnails: made on first request, cached outside the folder, remade when the image changes."""

from __future__ import annotations

import os

import pytest
from folder_files import image_bytes, noisy_bytes
from PIL import Image

from imagearena.errors import InputError
from imagearena.folders.paths import PathRefused
from imagearena.folders.thumbs import ThumbnailCache
from imagearena.media import ImageRejected


def _tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_thumbnails_are_lazy_cached_outside_and_follow_changes(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    (root / "big.png").write_bytes(image_bytes(size=(1200, 300)))
    before = _tree(root)
    cache = ThumbnailCache(root.resolve(), tmp_path / "data" / "thumbs", edge=256)
    assert not (tmp_path / "data").exists()  # nothing made before it is asked for
    first = cache.get("big.png")
    with Image.open(first) as thumb:
        assert thumb.size == (256, 64) and thumb.format == "WEBP"
    assert cache.get("big.png") == first
    assert _tree(root) == before  # nothing written inside the folder
    mtime = first.stat().st_mtime_ns
    (root / "big.png").write_bytes(image_bytes(size=(100, 400)))
    os.utime(root / "big.png", ns=(mtime + 10**9, mtime + 10**9))
    second = cache.get("big.png")
    assert second != first
    with Image.open(second) as thumb:
        assert thumb.size == (64, 256)


def test_a_damaged_image_fails_on_its_first_thumbnail(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    data = bytearray(noisy_bytes("PNG"))
    data[data.index(b"IDAT") + 40] ^= 0xFF  # pixels damaged; the header and the end are intact
    (root / "bad.png").write_bytes(bytes(data))
    cache = ThumbnailCache(root.resolve(), tmp_path / "thumbs")
    with pytest.raises(ImageRejected):
        cache.get("bad.png")
    with pytest.raises(PathRefused):
        cache.get("../bad.png")


def test_a_cache_inside_the_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="inside the ranked folder"):
        ThumbnailCache(tmp_path.resolve(), tmp_path / "data" / "thumbs")
