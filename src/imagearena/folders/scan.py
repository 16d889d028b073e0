"""Which files of a folder can be ranked: a walk of the folder that reads each image's header only.

A 10,000-image folder must start serving in seconds, so nothing is decoded here: each file's header is
read through :func:`imagearena.media.read_header` (format allow-list, byte and pixel limits, special
files refused without blocking, an end-of-file check for truncation) and its prompt is looked up (see
:mod:`imagearena.folders.prompts`). Memory is one small record per file. A file that fails is listed in
:attr:`FolderScan.skipped` with a short reason and a message; the walk goes on with the rest.

Hidden files and folders (a leading ``.``) are not visited, nor are folders reached through a symlink
(no loops, no second copies). A symlinked file is kept when its target is a regular file inside the
folder. Names that no database can store (a control character, bytes that are not UTF-8) are skipped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from imagearena.errors import ImageArenaError
from imagearena.folders.paths import PathRefused, check_name, is_within
from imagearena.folders.prompts import (
    folder_prompts_file,
    prompt_from_header,
    read_prompts_file,
    read_sidecar,
)
from imagearena.media import (
    IMAGE_SUFFIXES,
    ImageHeader,
    ImageRejected,
    Limits,
    read_header,
    special_kind,
)
from imagearena.promptfile import PromptTable
from imagearena.text import bad_character

#: Image formats the decoder does not accept: listed as skipped rather than silently left out.
OTHER_IMAGE_SUFFIXES = frozenset({".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".svg", ".ico"})
#: Longest image name (characters) kept; a name is the image's contestant name in the database.
MAX_NAME_CHARS = 1000


@dataclass(frozen=True, slots=True)
class FolderImage:
    """One image of the folder, as its header describes it. ``size_bytes`` and ``mtime_ns`` tell a
    changed file from the one seen before."""

    name: str  # relative POSIX path: cats/01.png
    size_bytes: int
    mtime_ns: int
    format: str
    width: int
    height: int
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that looked like an image and is left out: ``reason`` is a short tag (corrupt, oversized,
    too-many-pixels, not-an-image, special-file, outside, unreadable, bad-name), ``message`` says why."""

    name: str
    reason: str
    message: str


@dataclass
class FolderScan:
    root: Path
    images: list[FolderImage] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: (where, message) for lines of the prompts file that could not be used.
    prompt_problems: list[tuple[str, str]] = field(default_factory=list)


#: Files between two calls of a scan's progress callback.
PROGRESS_EVERY = 1000


def scan_folder(
    root: Path,
    limits: Limits = Limits(),
    *,
    prompts_file: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> FolderScan:
    """Every image under the resolved folder ``root``, sorted by name, and every file skipped.

    ``prompts_file`` (a file anywhere) replaces the folder's own ``prompts.jsonl`` / ``prompts.csv``.
    ``on_progress`` is called with the number of files examined so far, every :data:`PROGRESS_EVERY`.
    """
    scan = FolderScan(root=root)
    source = prompts_file or folder_prompts_file(root)
    table = read_prompts_file(source) if source is not None else PromptTable()
    scan.prompt_problems.extend(table.problems)
    for count, (name, path, entry, sidecars) in enumerate(_walk(root), start=1):
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(count)
        item = _examine(root, name, path, entry, limits)
        if isinstance(item, Skipped):
            scan.skipped.append(item)
            continue
        header, status = item
        prompt = None
        sidecar = os.path.splitext(entry.name)[0] + ".txt"
        if sidecar in sidecars:
            prompt = _sidecar(root, os.path.join(os.path.dirname(path), sidecar))
        if prompt is None:
            prompt = table.lookup(name)
        if prompt is None:
            prompt = prompt_from_header(dict(header.text))
        scan.images.append(
            FolderImage(
                name=name,
                size_bytes=header.size_bytes,
                mtime_ns=status.st_mtime_ns,
                format=header.format,
                width=header.width,
                height=header.height,
                prompt=prompt,
            )
        )
    return scan


def count_candidates(root: Path, stop_at: int | None = None) -> int:
    """How many files under ``root`` a scan would examine (names only, nothing opened or stat'ed);
    counting stops at ``stop_at``. Cheap: it tells a large folder from a small one before the scan."""
    count = 0
    for _ in _walk(root):
        count += 1
        if stop_at is not None and count >= stop_at:
            break
    return count


def _walk(root: Path) -> Iterator[tuple[str, str, os.DirEntry[str], frozenset[str]]]:
    """(name, path, entry, sidecar names of its folder) for each file with an image-like suffix,
    folders in sorted order, depth first."""
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        sidecars = frozenset(e.name for e in entries if e.name.endswith(".txt"))
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.path, name + "/"))
                    continue
            except OSError:
                continue
            suffix = os.path.splitext(entry.name)[1].lower()
            if suffix in IMAGE_SUFFIXES or suffix in OTHER_IMAGE_SUFFIXES:
                yield name, entry.path, entry, sidecars
        stack.extend(reversed(subfolders))


def _examine(
    root: Path, name: str, path: str, entry: os.DirEntry[str], limits: Limits
) -> Skipped | tuple[ImageHeader, os.stat_result]:
    problem = None if name.isascii() else bad_character(name)
    if problem is not None:
        shown = name.encode("utf-8", "backslashreplace").decode()
        return Skipped(shown, "bad-name", f"file name holds {problem}: rename the file")
    try:
        check_name(name)  # what the server accepts when the image is asked for
    except PathRefused as exc:
        return Skipped(name.encode("unicode_escape").decode(), "bad-name", f"{exc}: rename the file")
    if len(name) > MAX_NAME_CHARS:
        return Skipped(name[:80] + "...", "bad-name", f"file name is over {MAX_NAME_CHARS} characters")
    if os.path.splitext(name)[1].lower() in OTHER_IMAGE_SUFFIXES:
        return Skipped(name, "not-an-image", "format not accepted: convert it to PNG, JPEG, WEBP or GIF")
    try:
        if entry.is_symlink():
            real = Path(os.path.realpath(path))
            if not is_within(real, root):
                return Skipped(name, "outside", "a symlink to a file outside the folder: not served")
            status = os.stat(real)
        else:
            status = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(status.st_mode):
            return Skipped(name, "special-file", f"{special_kind(status.st_mode)}, not a regular file")
        header = read_header(path, limits)
    except ImageRejected as exc:
        return Skipped(name, exc.reason, str(exc))
    except (OSError, ImageArenaError) as exc:
        return Skipped(name, "unreadable", f"cannot read the file: {getattr(exc, 'strerror', None) or exc}")
    return header, status


def _sidecar(root: Path, path: str) -> str | None:
    real = Path(os.path.realpath(path))
    if not is_within(real, root):
        return None
    return read_sidecar(real)
