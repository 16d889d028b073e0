"""Thumbnails of a folder's images, made on first request and kept outside the folder.

The cache lives under the data dir, one subfolder per ranked folder (named by a digest of its resolved
path), one file per (image name, size, modification time, edge): an image changed since is simply a
new key, and the stale file is never served again. A thumbnail is decoded through the package's one
decoder (:func:`imagearena.media.read_image`, full limits), so the first request for a damaged image
fails there with an :class:`imagearena.media.ImageRejected`. Files are written to a temporary name and
renamed, so concurrent requests for one thumbnail never see half of it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from imagearena.errors import InputError
from imagearena.folders.paths import is_within, resolve_inside
from imagearena.media import Limits, read_image

#: Longest edge of a thumbnail, pixels: large enough for four images side by side on a wide screen.
DEFAULT_EDGE = 512
THUMB_FORMAT = ("WEBP", ".webp", "image/webp")


def folder_key(root: Path) -> str:
    """A short name for the resolved folder ``root``: what keys its state and its cache."""
    return hashlib.sha256(os.fsencode(root)).hexdigest()[:16]


class ThumbnailCache:
    """Lazy thumbnails of the images under ``root`` (resolved), stored under ``cache_dir``."""

    media_type = THUMB_FORMAT[2]

    def __init__(
        self, root: Path, cache_dir: Path, limits: Limits = Limits(), edge: int = DEFAULT_EDGE
    ) -> None:
        if is_within(cache_dir.resolve(), root):
            raise InputError(
                f"the thumbnail cache {cache_dir} lies inside the ranked folder {root}: "
                "nothing may be written there; pass a data dir outside it"
            )
        self.root = root
        self.dir = cache_dir / folder_key(root)
        self.limits = limits
        self.edge = edge

    def get(self, name: str) -> Path:
        """The thumbnail file of image ``name``, made now if it is not cached yet.

        Raises :class:`imagearena.folders.paths.PathRefused` for a name outside the folder and
        :class:`imagearena.media.ImageRejected` for an image that does not decode.
        """
        source = resolve_inside(self.root, name)
        status = source.stat()
        key = hashlib.sha256(
            f"{name}\0{status.st_size}\0{status.st_mtime_ns}\0{self.edge}".encode()
        ).hexdigest()
        target = self.dir / key[:2] / (key + THUMB_FORMAT[1])
        if target.is_file():
            return target
        image = read_image(source, self.limits)
        image.thumbnail((self.edge, self.edge))
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert(
                "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=THUMB_FORMAT[1])
        try:
            with os.fdopen(fd, "wb") as fh:
                image.save(fh, format=THUMB_FORMAT[0], quality=82, method=2)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
