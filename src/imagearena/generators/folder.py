"""A generator that serves images already on disk, and the prompt files that say which prompt each
image answers (shared with `imagearena import-folder`).

Prompts come, in order of precedence, from a sidecar ``<image stem>.txt`` next to the image, or a
``prompts.jsonl`` / ``prompts.csv`` in the folder's root mapping a file name to its prompt. A name in
a prompt file is either a bare file name (``cat.png``: the same prompt for that file in every model's
folder) or ``<model>/<file>``. Names that climb out of the folder (``../x``, absolute paths) are refused.

The generator also reads the ImageReward benchmark's layout, ``benchmark/generations/<model>/<id>_<k>.png``
beside ``benchmark/benchmark-prompts.json`` (a list of ``{"id": ..., "prompt": ...}``): image ``k`` of a
prompt is the answer for seed ``k``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from imagearena.errors import ImageArenaError, InputError, UnknownNameError
from imagearena.text import check_text
from imagearena.types import GeneratedImage, GenerationRequest

if TYPE_CHECKING:
    from PIL.Image import Image

    from imagearena.generators.config import GeneratorConfig
    from imagearena.media import Limits

PROMPT_FILES = ("prompts.jsonl", "prompts.csv")
#: The ImageReward benchmark's prompt list: images are named ``<id>_<k>.<ext>``.
BENCHMARK_PROMPTS = "benchmark-prompts.json"
FILE_KEYS = ("file", "image", "filename", "path")
PROMPT_KEYS = ("prompt", "text", "caption")
MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024
MAX_SIDECAR_BYTES = 64 * 1024


@dataclass
class PromptTable:
    """Relative image name -> prompt, plus the problems found while reading the prompt files."""

    prompts: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, message)


def is_inside(path: Path, root: Path) -> bool:
    """True when ``path`` (after following symlinks) lies under ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, unreadable, or a symlink loop
        return False
    return True


def safe_relative_name(name: str) -> str | None:
    """The normalized ``a/b.png`` form of a name in a prompt file, or None if it is unsafe."""
    name = name.strip().replace("\\", "/")
    if not name or "\x00" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or len(parts) > 2:
        return None
    return "/".join(parts)


def _pick(row: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, str):
            return value
    return None


def read_prompt_table(root: Path) -> PromptTable:
    """Read ``prompts.jsonl`` and ``prompts.csv`` in ``root``; a bad line is a problem, not a failure."""
    table = PromptTable()
    for file_name in PROMPT_FILES:
        path = root / file_name
        if not path.is_file():
            continue
        if not is_inside(path, root):
            table.problems.append((file_name, "prompt file is a symlink leaving the folder: refused"))
            continue
        if path.stat().st_size > MAX_PROMPT_FILE_BYTES:
            table.problems.append(
                (file_name, f"prompt file is over {MAX_PROMPT_FILE_BYTES:,} bytes: refused")
            )
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (UnicodeDecodeError, OSError) as exc:
            table.problems.append((file_name, f"cannot read prompt file as UTF-8 text: {exc}"))
            continue
        rows = (
            _jsonl_rows(text, file_name, table)
            if file_name.endswith(".jsonl")
            else _csv_rows(text, file_name, table)
        )
        for where, name, prompt in rows:
            safe = safe_relative_name(name)
            if safe is None:
                table.problems.append(
                    (where, f"image name {name!r} leaves the folder or is not a file name: refused")
                )
            elif not prompt.strip():
                table.problems.append((where, f"empty prompt for {name!r}"))
            else:
                table.prompts[safe] = prompt.strip()
    return table


def _jsonl_rows(text: str, file_name: str, table: PromptTable) -> Iterator[tuple[str, str, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{file_name}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            table.problems.append((where, f"not valid JSON: {exc.msg}"))
            continue
        name = _pick(row, FILE_KEYS) if isinstance(row, dict) else None
        prompt = _pick(row, PROMPT_KEYS) if isinstance(row, dict) else None
        if name is None or prompt is None:
            table.problems.append((where, 'expected {"file": "<image name>", "prompt": "<text>"}'))
            continue
        yield where, name, prompt


def _csv_rows(text: str, file_name: str, table: PromptTable) -> Iterator[tuple[str, str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if not any(k in fields for k in FILE_KEYS) or not any(k in fields for k in PROMPT_KEYS):
        table.problems.append((file_name, "expected a header with columns 'file' and 'prompt'"))
        return
    for number, raw in enumerate(reader, start=2):
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        name, prompt = _pick(row, FILE_KEYS), _pick(row, PROMPT_KEYS)
        if name is None or prompt is None:
            table.problems.append((f"{file_name}:{number}", "row is missing its file or prompt"))
            continue
        yield f"{file_name}:{number}", name, prompt


def prompt_for(image: Path, root: Path, model: str, table: PromptTable) -> str | None:
    """The prompt of ``root/model/image.name``: sidecar first, then ``model/name``, then ``name``.

    Raises InputError for a sidecar that is a symlink leaving ``root`` or unreadable, and for a prompt
    no database can store (a NUL, a lone surrogate, a control character: see imagearena.text).
    """
    prompt = _sidecar_prompt(image, root) or (
        table.prompts.get(f"{model}/{image.name}") or table.prompts.get(image.name)
    )
    if prompt is not None:
        from imagearena.media import ImageRejected

        try:
            check_text(prompt, f"the prompt of {image.name}")
        except InputError as exc:
            raise ImageRejected(str(exc), "bad-prompt") from None
    return prompt


def _sidecar_prompt(image: Path, root: Path) -> str | None:
    """The text of ``<image stem>.txt`` beside ``image``, or None when there is none (or it is empty)."""
    sidecar = image.with_suffix(".txt")
    if sidecar.is_file():
        if not is_inside(sidecar, root):
            from imagearena.media import ImageRejected

            raise ImageRejected(f"sidecar {sidecar.name} is a symlink leaving the folder: refused", "outside")
        if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
            raise InputError(f"sidecar {sidecar.name} is over {MAX_SIDECAR_BYTES:,} bytes")
        try:
            text = sidecar.read_text(encoding="utf-8-sig").strip()
        except (UnicodeDecodeError, OSError) as exc:
            raise InputError(f"cannot read sidecar {sidecar.name} as UTF-8 text: {exc}") from exc
        if text:
            return text
    return None


def benchmark_prompts(folder: Path) -> dict[str, str]:
    """Prompt id -> prompt from the first ``benchmark-prompts.json`` in ``folder``, its parent or its
    grandparent (``benchmark/generations/<model>``); {} when there is none or it cannot be read."""
    resolved = folder.resolve()
    for root in (resolved, resolved.parent, resolved.parent.parent):
        path = root / BENCHMARK_PROMPTS
        if not path.is_file() or path.stat().st_size > MAX_PROMPT_FILE_BYTES:
            continue
        try:
            rows = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {}
        out: dict[str, str] = {}
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and isinstance(row.get("prompt"), str) and row.get("id") is not None:
                text = row["prompt"].strip()
                try:
                    check_text(text, "a benchmark prompt")
                except InputError:
                    continue
                if text:
                    out[str(row["id"])] = text
        return out
    return {}


class FolderGenerator:
    """Serves existing images of one folder (one model's outputs) as a generator.

    For a request, image k is the image whose prompt is the request's; when several images share the
    prompt, ``seed + k`` picks one, so the same (prompt, seed) gives the same file. Prompts come from
    sidecars or the folder's prompt files, as for import-folder; the folder's parent's prompt files are
    consulted too, so ``DIR/<model>`` works. An image whose prompt cannot be read or stored is left out.
    Images are checked by the package's one decoder (imagearena.media) under ``limits``, and returned
    as the file's bytes. From a generators file: ``backend = "folder"``, ``path = "DIR"``.
    """

    OPTIONS = frozenset({"path"})

    def __init__(
        self,
        config: GeneratorConfig | None = None,
        *,
        path: str | Path | None = None,
        name: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        from imagearena.media import Limits

        if config is not None:
            from imagearena.generators.config import path_option

            path = path or path_option(config, "path")
            name = name or config.name
            if path is None:
                raise InputError(f'generator {config.name!r}: set path = "DIR", the folder of the images')
        if path is None:
            raise InputError("pass the folder that holds the images")
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(f"{self.path} is not a folder: pass the folder that holds the images")
        self.name = name or f"folder-{self.path.resolve().name}"
        self.limits = limits or Limits()
        self._index: dict[str, list[Path]] | None = None
        self._numbered: dict[str, dict[int, Path]] = {}  # prompt -> k -> <id>_<k> image

    def __repr__(self) -> str:
        return f"FolderGenerator(name={self.name!r}, path={str(self.path)!r})"

    def _build_index(self) -> dict[str, list[Path]]:
        from imagearena.media import IMAGE_SUFFIXES

        parent = self.path.resolve().parent
        tables = [read_prompt_table(self.path), read_prompt_table(parent)]
        model = self.path.resolve().name
        by_id = benchmark_prompts(self.path)
        index: dict[str, list[Path]] = {}
        for image in sorted(self.path.iterdir()):
            if image.name.startswith(".") or image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if not image.is_file() or not is_inside(image, self.path):
                continue
            prompt_id, _, k = image.stem.rpartition("_")
            if by_id and prompt_id in by_id and k.isdigit() and not image.with_suffix(".txt").is_file():
                index.setdefault(by_id[prompt_id], []).append(image)
                self._numbered.setdefault(by_id[prompt_id], {})[int(k)] = image
                continue
            for table, root in ((tables[0], self.path), (tables[1], parent)):
                try:
                    prompt = prompt_for(image, root, model, table)
                except ImageArenaError:
                    break  # an unreadable sidecar or a prompt no database can store: leave the image out
                if prompt:
                    index.setdefault(prompt, []).append(image)
                    break
        return index

    def prompts(self) -> list[str]:
        """Every prompt this folder has an image for."""
        if self._index is None:
            self._index = self._build_index()
        return sorted(self._index)

    def check(self) -> str:
        """Say how many prompts the folder answers (an empty folder is an error)."""
        count = len(self.prompts())
        if not count:
            raise InputError(f"folder {self.path} has no image with a prompt: add sidecars or prompts.jsonl")
        return f"{count} prompts in {self.path}"

    def _file(self, prompt: str, seed: int) -> Path:
        self.prompts()
        assert self._index is not None
        candidates = self._index.get(prompt.strip())
        if not candidates:
            raise UnknownNameError(
                f"folder {self.path} has no image for the prompt {prompt!r}: add a sidecar .txt or a "
                "prompts.jsonl line for it"
            )
        numbered = self._numbered.get(prompt.strip())
        if numbered:
            if seed not in numbered:
                raise UnknownNameError(
                    f"folder {self.path} has no image {seed} for the prompt {prompt!r} (it has "
                    f"{', '.join(map(str, sorted(numbered)))}): ask for seeds it holds"
                )
            return numbered[seed]
        return candidates[seed % len(candidates)]

    def image(self, prompt: str, seed: int = 0) -> Image:
        """The decoded image for (prompt, seed)."""
        from imagearena.media import read_image

        # the byte, format and pixel limits of an import, from the package's one decoder
        return read_image(self._file(prompt, seed), self.limits)

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        from imagearena.generators.config import check_request
        from imagearena.media import decode_image, read_limited

        check_request(request)
        images = []
        for k in range(request.n):
            path = self._file(request.prompt, request.seed + k)
            data = read_limited(path, self.limits)
            decode_image(data, self.limits)  # refuse what an import would refuse
            params = {"backend": "folder", "file": path.relative_to(self.path).as_posix()}
            images.append(GeneratedImage(data=data, seed=request.seed + k, params=params))
        return images
