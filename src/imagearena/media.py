"""Safe image decoding and a content-addressed image store on local disk.

Uploaded and imported files are untrusted: they are size-checked before reading, their pixel count
is checked from the header before any pixel is decoded (decompression bombs), only an allow-list of
formats is accepted, and every frame is decoded in full so that truncated or corrupt files are
caught at import time rather than when a voter opens them.

Files are stored under their sha256 (``ab/cd/<sha256>.<ext>``), written to a temporary file and
renamed into place, so a crash never leaves a half-written image under a valid name, and the same
bytes are stored once however many times they are imported.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imagearena.errors import InputError, UnknownNameError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024
MAX_FRAMES = 500
# PIL format name -> (file extension, media type)
FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
EXTENSIONS = {ext: fmt for fmt, (ext, _) in FORMATS.items()}
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ImageRejected(InputError):
    """A file that is not an acceptable image; ``reason`` is a short machine-friendly tag."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    formats: tuple[str, ...] = tuple(FORMATS)

    @classmethod
    def from_settings(cls, settings) -> Limits:
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


def inspect_image(data: bytes, limits: Limits = Limits()) -> ImageInfo:
    """Decode ``data`` completely under ``limits`` and describe it; raise :class:`ImageRejected` if unsafe."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"file is {len(data):,} bytes, over the {limits.max_bytes:,}-byte limit "
            "(raise IMAGEARENA_MAX_IMAGE_BYTES to accept it)",
            "oversized",
        )
    if not data:
        raise ImageRejected("file is empty", "not-an-image")
    fmt = ""
    with warnings.catch_warnings():
        # Our own pixel limit applies below; PIL's global one would warn or raise at its own threshold.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(limits.formats)) as img:
                fmt = img.format or ""
                width, height = img.size
                frames = getattr(img, "n_frames", 1)
                _check_pixels(width, height, frames, limits)
                img.verify()  # checksums and structure (PNG CRCs) without decoding
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                for index in range(frames):
                    img.seek(index)
                    img.load()  # raises on truncated or corrupt pixel data
        except ImageRejected:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
            if isinstance(exc, Image.DecompressionBombError):
                raise ImageRejected(f"image has too many pixels ({exc})", "too-many-pixels") from exc
            raise ImageRejected(
                f"not an image in an accepted format ({', '.join(limits.formats)})", "not-an-image"
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise ImageRejected(f"corrupt or truncated {fmt or 'image'} file: {exc}", "corrupt") from exc
    if fmt not in FORMATS:
        raise ImageRejected(f"format {fmt} is not accepted: use PNG, JPEG, WEBP or GIF", "not-an-image")
    return ImageInfo(
        sha256=hashlib.sha256(data).hexdigest(), format=fmt, width=width, height=height, size_bytes=len(data)
    )


def _check_pixels(width: int, height: int, frames: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(f"image has an empty size {width}x{height}", "corrupt")
    if frames > MAX_FRAMES:
        raise ImageRejected(
            f"animation has {frames} frames, over the {MAX_FRAMES}-frame limit", "too-many-pixels"
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
    """Read a file, refusing it from its size before reading when it is over the byte limit."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImageRejected(
            f"file is {size:,} bytes, over the {limits.max_bytes:,}-byte limit "
            "(raise IMAGEARENA_MAX_IMAGE_BYTES to accept it)",
            "oversized",
        )
    with path.open("rb") as fh:
        data = fh.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:  # grew while we read it
        raise ImageRejected(f"file is over the {limits.max_bytes:,}-byte limit", "oversized")
    return data


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
