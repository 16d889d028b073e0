"""The one way a name from outside (a URL, a decision log, a prompts file) becomes a file in the folder.

A name is a relative POSIX path such as ``cats/01.png``. Refused before the file system is asked: empty
names, NUL and control characters, absolute paths and drive letters, backslashes, ``.`` and ``..``
parts, and percent-encoded dots, slashes and backslashes (``%2e``, ``%2f``, ``%5c``, and ``%25`` that
hides them): the web layer decodes a URL once, and a name that still looks encoded after that was
encoded twice to slip past a check. Then the name is joined to the folder, every symlink on the way is
followed (``os.path.realpath``), and the result must still lie inside the folder's own real path and be
a regular file, opened without blocking, so a symlink out of the folder or to a FIFO or device is
refused too.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from imagearena.errors import ImageArenaError, InputError

#: Longest name accepted (bytes of UTF-8), below every common file system's path limit.
MAX_NAME_BYTES = 4096
_ENCODED = re.compile(r"%(2e|2f|5c|25|00)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PathRefused(ImageArenaError):
    """A name that leaves the folder or is not an image file in it. Answered 404 by the web app: to a
    client it is simply not there, whatever the reason."""

    http_status = 404


def check_name(name: str) -> str:
    """``name`` when it is a plain relative name of a file inside a folder; PathRefused otherwise."""
    if not name or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise PathRefused("no image by that name: give a relative path such as cats/01.png")
    if _CONTROL.search(name):
        raise PathRefused("image names hold no control characters")
    if "\\" in name or _ENCODED.search(name):
        raise PathRefused("image names hold no backslashes or encoded separators: use plain '/'")
    if name.startswith("/") or _DRIVE.match(name):
        raise PathRefused("image names are relative to the folder, never absolute")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise PathRefused("image names hold no empty, '.' or '..' parts")
    return name


def resolve_inside(root: Path, name: str) -> Path:
    """The real path of the regular file ``root/name``, refused unless it lies inside ``root``.

    ``root`` must already be resolved (``Path.resolve()``); the file is checked to be a regular file
    without blocking on it (a FIFO is refused, never waited on).
    """
    check_name(name)
    real = Path(os.path.realpath(root.joinpath(*name.split("/"))))
    if not is_within(real, root):
        raise PathRefused(f"{name} leaves the folder (a symlink out of it): refused")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise PathRefused(f"no image {name} in the folder") from None
    except OSError as exc:
        raise PathRefused(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if not stat.S_ISREG(mode):
        raise PathRefused(f"{name} is not a regular file: refused")
    return real


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or below it (both already resolved; no file system access)."""
    return path == root or root in path.parents


def relative_name(path: Path, root: Path) -> str:
    """The POSIX name of ``path`` relative to ``root`` (neither resolved here), as names are stored."""
    return PurePosixPath(*path.relative_to(root).parts).as_posix()


def resolve_folder(folder: str | Path) -> Path:
    """The real path of an existing folder, or InputError saying what to pass instead."""
    path = Path(folder).expanduser()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InputError(f"{folder}: no such folder; pass the folder that holds the images") from None
    if not real.is_dir():
        raise InputError(f"{folder} is not a folder; pass the folder that holds the images")
    return real
