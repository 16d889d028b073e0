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

import json
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from imagearena.errors import ImageArenaError, InputError, UnknownNameError
from imagearena.promptfile import MAX_PROMPTS_FILE_BYTES, PROMPT_FILES, PromptTable, prompt_rows
from imagearena.text import check_text
from imagearena.types import GeneratedImage, GenerationRequest

if TYPE_CHECKING:
    from PIL.Image import Image

    from imagearena.generators.config import GeneratorConfig
    from imagearena.media import Limits

#: The ImageReward benchmark's prompt list: images are named ``<id>_<k>.<ext>``.
BENCHMARK_PROMPTS = "benchmark-prompts.json"
MAX_SIDECAR_BYTES = 64 * 1024


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
        for where, name, prompt in prompt_rows(path, table.problems):
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


def prompt_for(image: Path, root: Path, model: str, table: PromptTable) -> str | None:
    """The prompt of ``root/model/image.name``: sidecar first, then ``model/name``, then ``name``.

    Raises InputError for a sidecar that is a symlink leaving ``root`` or unreadable, and for a prompt
    no database can store (a NUL, a lone surrogate, a control character: see imagearena.text).
    """
    prompt = _sidecar_prompt(image, root) or table.lookup(f"{model}/{image.name}")
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
        if not path.is_file() or path.stat().st_size > MAX_PROMPTS_FILE_BYTES:
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
