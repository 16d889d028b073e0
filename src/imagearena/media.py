"""Safe image decoding and a content-addressed image store on local disk.

This is the one image decoder of the package: imports, scorers and the folder generator all read
images through it, with the limits from settings passed down. Files are untrusted: they are
size-checked before reading, only regular files are read, their pixel count is checked from the
header before any pixel is decoded (decompression bombs), only an allow-list of formats is
accepted, and at import every frame is decoded in full so that truncated or corrupt files are
caught then rather than when a voter opens them.

Files are stored under their sha256 (``ab/cd/<sha256>.<ext>``), written to a temporary file and
renamed into place, so a crash never leaves a half-written image under a valid name, and the same
bytes are stored once however many times they are imported.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from imagearena.errors import InputError, UnknownNameError
from imagearena.types import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
    from PIL.ImageFile import ImageFile

    from imagearena.settings import Settings

DEFAULT_MAX_BYTES = MAX_IMAGE_BYTES
DEFAULT_MAX_PIXELS = MAX_IMAGE_PIXELS
MAX_FRAMES = 500
# PIL format name -> (file extension, media type)
FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
EXTENSIONS = {ext: fmt for fmt, (ext, _) in FORMATS.items()}
IMAGE_SUFFIXES = frozenset({*(f".{ext}" for ext in EXTENSIONS), ".jpeg"})  # how image files are named
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ImageRejected(InputError):
    """A file that is not an acceptable image; ``reason`` is a short machine-friendly tag."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    """What the decoder accepts: file size, pixels (all frames together), frames, and formats."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = MAX_FRAMES
    formats: tuple[str, ...] = tuple(FORMATS)

    def __post_init__(self) -> None:
        unknown = set(self.formats) - set(FORMATS)
        if unknown:
            raise ValueError(f"formats {sorted(unknown)} cannot be stored: choose from {list(FORMATS)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the database records about a stored image."""

    sha256: str
    format: str  # PIL name: PNG, JPEG, WEBP, GIF
    width: int
    height: int
    size_bytes: int

    @property
    def extension(self) -> str:
        return FORMATS[self.format][0]

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][1]

    @property
    def file_name(self) -> str:
        return f"{self.sha256}.{self.extension}"


def media_type(format: str) -> str:
    """``image/png`` for ``PNG`` (or ``png``); what the web app sends as Content-Type."""
    fmt = EXTENSIONS.get(format.lower(), format.upper())
    if fmt not in FORMATS:
        raise UnknownNameError(f"unknown image format {format!r}")
    return FORMATS[fmt][1]


def decode_image(data: bytes, limits: Limits = Limits()) -> PILImage:
    """The first frame of ``data``, decoded in its own mode, after the byte, format and pixel checks.

    The one decoder for images read at run time (scorers, the folder generator); it skips the
    checksum pass and the other frames that an import checks with :func:`inspect_image`.
    """
    _check_bytes(data, limits)
    return _decode_first_frame(io.BytesIO(data), limits)


def inspect_image(data: bytes, limits: Limits = Limits()) -> ImageInfo:
    """Decode ``data`` completely under ``limits`` and describe it; raise :class:`ImageRejected` if unsafe."""
    _check_bytes(data, limits)
    with _rejecting_decode_errors():
        with _open_allowed(io.BytesIO(data), limits) as img:
            fmt = img.format or ""
            width, height = img.size
            frames = getattr(img, "n_frames", 1)
            _check_pixels(width, height, frames, limits)
            img.verify()  # checksums and structure (PNG CRCs) without decoding
        with _open_allowed(io.BytesIO(data), limits) as img:
            for index in range(frames):
                img.seek(index)
                _check_pixels(*img.size, frames, limits)  # a GIF frame can widen the canvas
                img.load()  # raises on truncated or corrupt pixel data
    return ImageInfo(
        sha256=hashlib.sha256(data).hexdigest(), format=fmt, width=width, height=height, size_bytes=len(data)
    )


def read_image(path: Path, limits: Limits = Limits()) -> PILImage:
    """The first frame of the image file at ``path`` (see :func:`decode_image`), decoded from the file
    as it is read, not from a copy of its bytes (which cost a quarter more CPU time on a 512 px PNG)."""
    with _open_regular(path, limits) as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise ImageRejected("file is empty", "not-an-image")
        return _decode_first_frame(fh, limits)


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What an image file's header says, read without decoding a pixel (see :func:`read_header`)."""

    format: str  # PIL name: PNG, JPEG, WEBP, GIF
    width: int
    height: int
    size_bytes: int
    #: Text stored before the pixels (PNG tEXt/iTXt/zTXt chunks such as ``parameters``), each value cut
    #: to :data:`MAX_HEADER_TEXT` characters.
    text: tuple[tuple[str, str], ...] = ()


#: Longest header text value kept by :func:`read_header` (a generator's prompt and settings fit).
MAX_HEADER_TEXT = 64 * 1024
#: Bytes at the end of a file in which :func:`read_header` looks for the format's end marker.
_TAIL_BYTES = 1024


def read_header(path: str | os.PathLike[str], limits: Limits = Limits()) -> ImageHeader:
    """Describe the image file at ``path`` from its header and its last bytes, decoding no pixel.

    The cheap check for scanning many files: the file must be a regular file within the byte limit, in
    an allowed format, with a first frame within the pixel limit, and must end as its format ends (PNG's
    IEND chunk, JPEG's EOI marker, GIF's trailer, the size in WebP's RIFF header), which catches most
    truncated files. Damage inside the pixel data is found only by a full decode (:func:`read_image`).
    """
    with _open_regular(path, limits) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise ImageRejected("file is empty", "not-an-image")
        if "PNG" in limits.formats:
            header = _png_header(fh, size, limits)
            if header is not None:
                return header
            fh.seek(0)
        with _rejecting_decode_errors():
            img = _open_allowed(fh, limits)
            width, height = img.size
            _check_pixels(width, height, 1, limits)
            fmt = img.format or ""
            text = tuple(
                (str(key), value[:MAX_HEADER_TEXT])
                for key, value in img.info.items()
                if isinstance(value, str)
            )
        fh.seek(0)
        head = fh.read(12)
        fh.seek(max(size - _TAIL_BYTES, 0))
        tail = fh.read(_TAIL_BYTES)
    _check_tail(fmt, head, tail, size)
    return ImageHeader(format=fmt, width=width, height=height, size_bytes=size, text=text)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
#: Chunks read before the pixels when looking for text: a generator writes a few.
_PNG_MAX_CHUNKS = 64


def _png_header(fh: BinaryIO, size: int, limits: Limits) -> ImageHeader | None:
    """:func:`read_header` for a PNG by its chunk structure alone (what Pillow's plugin reads, at a
    tenth of its cost per file): the IHDR chunk and its CRC, the text chunks before the first IDAT, and
    the IEND chunk at the end. None when the file is not a PNG."""
    head = fh.read(33)
    if head[:8] != _PNG_SIGNATURE:
        return None
    if len(head) < 33:
        raise ImageRejected("corrupt or truncated image file: PNG without its IHDR chunk", "corrupt")
    length, kind = struct.unpack(">I4s", head[8:16])
    if kind != b"IHDR" or length != 13:
        raise ImageRejected("corrupt or truncated image file: PNG without its IHDR chunk", "corrupt")
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise ImageRejected("corrupt or truncated image file: broken PNG IHDR checksum", "corrupt")
    width, height = struct.unpack(">II", head[16:24])
    _check_pixels(width, height, 1, limits)
    text: list[tuple[str, str]] = []
    position = 33
    for _ in range(_PNG_MAX_CHUNKS):
        chunk = fh.read(8)
        if len(chunk) < 8:
            raise ImageRejected("corrupt or truncated image file: PNG ends before its pixels", "corrupt")
        length, kind = struct.unpack(">I4s", chunk)
        if position + 12 + length > size:
            raise ImageRejected("corrupt or truncated image file: a PNG chunk runs past the end", "corrupt")
        if kind in (b"IDAT", b"IEND"):
            break
        if kind in (b"tEXt", b"zTXt", b"iTXt") and length <= 4 * MAX_HEADER_TEXT:
            found = _png_text(kind, fh.read(length))
            if found is not None:
                text.append(found)
            fh.seek(4, os.SEEK_CUR)
        else:
            fh.seek(length + 4, os.SEEK_CUR)
        position += 12 + length
    fh.seek(max(size - _TAIL_BYTES, 0))
    if _PNG_END not in fh.read(_TAIL_BYTES):
        raise ImageRejected("truncated PNG file: it does not end as a complete PNG file does", "corrupt")
    return ImageHeader(format="PNG", width=width, height=height, size_bytes=size, text=tuple(text))


def _png_text(kind: bytes, data: bytes) -> tuple[str, str] | None:
    """(keyword, text) of a PNG text chunk, as Pillow reads it; None for one that does not decode."""
    key, sep, rest = data.partition(b"\0")
    if not sep:
        return None
    try:
        if kind == b"tEXt":
            value = rest.decode("latin-1")
        elif kind == b"zTXt":
            value = _inflate(rest[1:]).decode("latin-1")
        else:  # iTXt: compression flag, method, language\0, translated keyword\0, text
            compressed = rest[:1] == b"\1"
            _, _, rest = rest[2:].partition(b"\0")
            _, _, rest = rest.partition(b"\0")
            value = (_inflate(rest) if compressed else rest).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, ValueError):
        return None
    return key.decode("latin-1"), value[:MAX_HEADER_TEXT]


def _inflate(data: bytes) -> bytes:
    """Decompress at most 4 x MAX_HEADER_TEXT bytes: a text chunk cannot be a zip bomb."""
    return zlib.decompressobj().decompress(data, 4 * MAX_HEADER_TEXT)


def _check_tail(fmt: str, head: bytes, tail: bytes, size: int) -> None:
    """Refuse a file whose last bytes are not how a complete file of its format ends."""
    if fmt == "PNG":
        complete = b"IEND\xaeB`\x82" in tail
    elif fmt == "JPEG":
        complete = b"\xff\xd9" in tail  # EOI; entropy-coded data never holds FF D9
    elif fmt == "GIF":
        complete = tail.rstrip(b"\x00").endswith(b";")
    elif fmt == "WEBP":
        complete = head[:4] == b"RIFF" and size >= struct.unpack("<I", head[4:8])[0] + 8
    else:
        return
    if not complete:
        raise ImageRejected(f"truncated {fmt} file: it does not end as a complete {fmt} file does", "corrupt")


def _decode_first_frame(fh: BinaryIO, limits: Limits) -> PILImage:
    with _rejecting_decode_errors():
        img = _open_allowed(fh, limits)
        _check_pixels(*img.size, 1, limits)
        img.load()
    return img


def _check_bytes(data: bytes, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise _oversized(len(data), limits)
    if not data:
        raise ImageRejected("file is empty", "not-an-image")


def _oversized(size: int, limits: Limits) -> ImageRejected:
    return ImageRejected(
        f"file is {size:,} bytes, over the {limits.max_bytes:,}-byte limit "
        "(raise IMAGEARENA_MAX_IMAGE_BYTES to accept it)",
        "oversized",
    )


def _open_allowed(fh: BinaryIO, limits: Limits) -> ImageFile:
    """Read the header in ``fh`` with the first allowed format's Pillow plugin; no pixel is decoded.

    ``Image.open`` would apply Pillow's process-wide pixel limit (``Image.MAX_IMAGE_PIXELS``, twice
    that is ~179 Mpx) before ours, so a raised IMAGEARENA_MAX_IMAGE_PIXELS would still be refused;
    going through the plugin registry ourselves lets our limit decide, with no global state changed.
    """
    from PIL import Image

    prefix = fh.read(16)
    for fmt in limits.formats:
        if fmt not in Image.OPEN:
            Image.init()  # registers the plugins Image.open would load lazily
        factory, accept = Image.OPEN.get(fmt, (None, None))
        if factory is None:
            continue
        verdict = accept(prefix) if accept is not None else True
        if not verdict or isinstance(verdict, str):  # a str says why the plugin cannot read it
            continue
        try:
            fh.seek(0)
            img = factory(fh, "")
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue  # not this format after all, as Image.open would try the next one
        if img.format not in limits.formats:  # a JPEG that is really an MPO
            img.close()
            raise ImageRejected(f"format {img.format} is not accepted: use {_names(limits)}", "not-an-image")
        return img
    raise ImageRejected(f"not an image in an accepted format ({_names(limits)})", "not-an-image")


def _names(limits: Limits) -> str:
    return ", ".join(limits.formats)


@contextmanager
def _rejecting_decode_errors() -> Iterator[None]:
    """Turn whatever Pillow raises on a damaged file into an :class:`ImageRejected`."""
    from PIL import Image

    try:
        yield
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        # raised only inside a plugin (a WebP header, a GIF frame) that applies Pillow's own limit
        raise ImageRejected(f"image has too many pixels for the decoder ({exc})", "too-many-pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise ImageRejected(f"corrupt or truncated image file: {exc}", "corrupt") from exc


def _check_pixels(width: int, height: int, frames: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(f"image has an empty size {width}x{height}", "corrupt")
    if frames > limits.max_frames:
        raise ImageRejected(
            f"animation has {frames} frames, over the {limits.max_frames}-frame limit", "too-many-pixels"
        )
    pixels = width * height * max(frames, 1)
    if pixels > limits.max_pixels:
        raise ImageRejected(
            f"image is {width}x{height}"
            + (f" x {frames} frames" if frames > 1 else "")
            + f" = {pixels:,} pixels, over the {limits.max_pixels:,}-pixel limit "
            "(raise IMAGEARENA_MAX_IMAGE_PIXELS to accept it)",
            "too-many-pixels",
        )


def read_limited(path: Path, limits: Limits = Limits()) -> bytes:
    """Read a regular file, refusing it from its size before reading when it is over the byte limit.

    The file is opened without blocking and checked to be a regular file before anything is read,
    so a FIFO, socket or device put where an image was expected is refused, never waited on.
    """
    with _open_regular(path, limits) as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(size + 1)  # sized to the file: reading max_bytes would allocate that much
    if len(data) > size:
        raise ImageRejected("file grew while it was read: import it again once it is written", "unreadable")
    return data


@contextmanager
def _open_regular(path: str | os.PathLike[str], limits: Limits) -> Iterator[BinaryIO]:
    """``path`` opened for reading once it is known to be a regular file within the byte limit."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            kind = special_kind(status.st_mode)
            raise ImageRejected(f"{kind}, not a regular file: skipped before reading", "special-file")
        if status.st_size > limits.max_bytes:
            raise _oversized(status.st_size, limits)
        yield fh


def special_kind(mode: int) -> str:
    """What a file that is not a regular file or a folder is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def encode_png(image: PILImage) -> bytes:
    """PNG bytes of ``image`` without timestamps or other varying metadata, so the bytes (and the
    sha256) depend on the pixels only."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


class MediaStore:
    """Content-addressed files under ``root``: ``root/ab/cd/<sha256>.<ext>``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, sha256: str, format: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise InputError(f"not a sha256 digest: {sha256!r}")
        fmt = EXTENSIONS.get(format.lower(), format.upper())
        if fmt not in FORMATS:
            raise UnknownNameError(f"unknown image format {format!r}")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{FORMATS[fmt][0]}"

    def locate(self, sha256: str) -> Path:
        """The stored file for a digest whatever its format; UnknownNameError when it is not stored."""
        for fmt in FORMATS:
            path = self.path(sha256, fmt)
            if path.is_file():
                return path
        raise UnknownNameError(f"no stored image with sha256 {sha256}")

    def __contains__(self, sha256: object) -> bool:
        try:
            self.locate(str(sha256))
        except (UnknownNameError, InputError):
            return False
        return True

    def put(self, data: bytes, limits: Limits = Limits()) -> ImageInfo:
        """Validate ``data`` and store it once; storing the same bytes again is a no-op."""
        info = inspect_image(data, limits)
        self._write(self.path(info.sha256, info.format), data)
        return info

    def put_file(self, path: Path, limits: Limits = Limits()) -> ImageInfo:
        return self.put(read_limited(path, limits), limits)

    def put_pil(self, image: PILImage) -> ImageInfo:
        """Store an image made in this process (a generator's output) as PNG."""
        return self.put(encode_png(image), Limits(max_bytes=2**31, max_pixels=2**31))

    def read(self, sha256: str) -> bytes:
        return self.locate(sha256).read_bytes()

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        if target.is_file() and target.stat().st_size == len(data):
            return  # content-addressed: same name, same bytes
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
