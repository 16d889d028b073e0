"""Safe decoding limits and the content-addressed store, on real image bytes made here."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import Image

from imagearena.media import ImageRejected, Limits, MediaStore, encode_png, inspect_image, media_type


def _encode(fmt: str, size=(32, 24), colour=(200, 30, 30), **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_accepted_formats_are_described(fmt):
    info = inspect_image(_encode(fmt))
    assert (info.format, info.width, info.height) == (fmt, 32, 24)
    assert info.media_type == media_type(fmt) and info.media_type.startswith("image/")


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_formats_outside_the_allow_list_are_refused(fmt):
    with pytest.raises(ImageRejected) as exc:
        inspect_image(_encode(fmt))
    assert exc.value.reason == "not-an-image"


@pytest.mark.parametrize("data", [b"", b"hello, world", b"%PDF-1.4\n" + b"x" * 200, os.urandom(512)])
def test_non_images_are_refused(data):
    with pytest.raises(ImageRejected) as exc:
        inspect_image(data)
    assert exc.value.reason == "not-an-image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_files_are_refused(fmt):
    noisy = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))  # incompressible, so bytes matter
    buf = io.BytesIO()
    noisy.save(buf, format=fmt)
    data = buf.getvalue()
    with pytest.raises(ImageRejected) as exc:
        inspect_image(data[: len(data) * 2 // 3])
    assert exc.value.reason in {"corrupt", "not-an-image"}


def test_png_with_a_bad_checksum_is_corrupt():
    data = bytearray(_encode("PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # flip a byte inside the compressed pixels: the CRC no longer matches
    with pytest.raises(ImageRejected) as exc:
        inspect_image(bytes(data))
    assert exc.value.reason == "corrupt"


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims a huge size: the decompression-bomb shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * 1) * 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_pixel_bombs_are_refused_before_decoding():
    with pytest.raises(ImageRejected) as exc:
        inspect_image(_png_header_only(100_000, 100_000))  # 10 G pixels claimed in ~60 bytes
    assert exc.value.reason == "too-many-pixels"
    with pytest.raises(ImageRejected, match="pixel limit"):
        inspect_image(_encode("PNG", size=(100, 100)), Limits(max_pixels=9_999))
    inspect_image(_encode("PNG", size=(100, 100)), Limits(max_pixels=10_000))


def test_animated_frames_count_towards_the_pixel_limit():
    frames = [Image.new("RGB", (50, 50), (i * 20, 0, 0)) for i in range(10)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    inspect_image(buf.getvalue(), Limits(max_pixels=25_000))
    with pytest.raises(ImageRejected, match="frames"):
        inspect_image(buf.getvalue(), Limits(max_pixels=24_999))


def test_byte_limit():
    data = _encode("PNG")
    with pytest.raises(ImageRejected) as exc:
        inspect_image(data, Limits(max_bytes=len(data) - 1))
    assert exc.value.reason == "oversized"


def test_store_is_content_addressed_sharded_and_deduplicated(tmp_path):
    store = MediaStore(tmp_path / "media")
    data = _encode("PNG")
    info = store.put(data)
    path = store.path(info.sha256, "PNG")
    assert path == tmp_path / "media" / info.sha256[:2] / info.sha256[2:4] / f"{info.sha256}.png"
    assert path.read_bytes() == data and store.read(info.sha256) == data
    mtime = path.stat().st_mtime_ns
    assert store.put(data) == info  # same bytes: same name, file left alone
    assert path.stat().st_mtime_ns == mtime
    assert info.sha256 in store and "0" * 64 not in store
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert files == [path]  # no temporary files left behind


def test_store_refuses_bad_bytes_and_writes_nothing(tmp_path):
    store = MediaStore(tmp_path / "media")
    with pytest.raises(ImageRejected):
        store.put(b"not an image")
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*.*"))


def test_store_file_size_is_checked_before_reading(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(_encode("PNG") + b"\x00" * 10_000)
    with pytest.raises(ImageRejected) as exc:
        MediaStore(tmp_path / "m").put_file(big, Limits(max_bytes=5_000))
    assert exc.value.reason == "oversized"


def test_store_paths_refuse_non_digests(tmp_path):
    from imagearena.errors import InputError

    with pytest.raises(InputError):
        MediaStore(tmp_path).path("../../etc/passwd", "PNG")


def test_encode_png_depends_on_pixels_only():
    a = Image.new("RGB", (8, 8), (1, 2, 3))
    b = Image.new("RGB", (8, 8), (1, 2, 3))
    assert encode_png(a) == encode_png(b)
    assert encode_png(a) != encode_png(Image.new("RGB", (8, 8), (1, 2, 4)))


def _one_bit_png(width: int, height: int) -> bytes:
    """A real, complete black 1-bit PNG: millions of pixels in a few kilobytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("decode", ["inspect_image", "decode_image"])
def test_a_raised_pixel_limit_is_ours_not_pillows(decode):
    """IMAGEARENA_MAX_IMAGE_PIXELS above Pillow's own bomb threshold (2 x Image.MAX_IMAGE_PIXELS,
    ~179 Mpx) is honoured, without changing Pillow's process-wide setting."""
    from imagearena import media

    width, height = 13_600, 13_300  # 180.9 Mpx, just over Pillow's threshold
    assert width * height > 2 * Image.MAX_IMAGE_PIXELS
    data = _one_bit_png(width, height)
    pillow_limit = Image.MAX_IMAGE_PIXELS
    result = getattr(media, decode)(data, Limits(max_pixels=200_000_000))
    assert (result.width, result.height) == (width, height)
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # unchanged for every other thread
    with pytest.raises(ImageRejected, match="IMAGEARENA_MAX_IMAGE_PIXELS") as exc:
        getattr(media, decode)(data, Limits(max_pixels=180_000_000))  # refused by ours, with our advice
    assert exc.value.reason == "too-many-pixels"


def test_decode_image_gives_the_first_frame_in_its_own_mode():
    from imagearena.media import decode_image

    buf = io.BytesIO()
    Image.new("RGBA", (5, 4), (1, 2, 3, 0)).save(buf, format="PNG")
    image = decode_image(buf.getvalue())
    assert (image.mode, image.size, image.getpixel((0, 0))) == ("RGBA", (5, 4), (1, 2, 3, 0))
    with pytest.raises(ImageRejected) as exc:
        decode_image(_encode("BMP"))
    assert exc.value.reason == "not-an-image"


@pytest.mark.parametrize("reader", ["read_limited", "read_image"])
def test_files_are_read_only_when_regular_never_waiting_on_a_fifo(tmp_path, reader):
    """A FIFO (or a device) where an image was expected is refused at once: a plain open() would
    wait for a writer forever."""
    import threading

    from imagearena import media

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            getattr(media, reader)(fifo)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():  # blocked in open(): give it a writer so the test ends, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join()
        pytest.fail(f"{reader} waited on a FIFO")
    assert isinstance(outcome[0], ImageRejected) and outcome[0].reason == "special-file"
    assert "FIFO" in str(outcome[0])


def test_read_image_decodes_a_file_under_the_limits(tmp_path):
    from imagearena.media import read_image

    Image.new("P", (6, 5)).save(tmp_path / "palette.gif")
    assert (read_image(tmp_path / "palette.gif").mode, read_image(tmp_path / "palette.gif").size) == ("P", (6, 5))
    with pytest.raises(ImageRejected, match="pixel limit"):
        read_image(tmp_path / "palette.gif", Limits(max_pixels=29))
    (tmp_path / "empty.png").touch()
    with pytest.raises(ImageRejected, match="empty"):
        read_image(tmp_path / "empty.png")


def test_limits_refuse_formats_the_store_cannot_keep():
    with pytest.raises(ValueError, match="BMP"):
        Limits(formats=("PNG", "BMP"))
