"""Reading a prompts file: JSON Lines objects or CSV rows that map an image name to its prompt.

A row names its image in a ``file``, ``image``, ``filename`` or ``path`` field and its prompt in a
``prompt``, ``text`` or ``caption`` field. A file that cannot be read and a row that says neither are
reported as problems, ``(where, message)``, and skipped; what a name or a prompt may be is the caller's
rule (the folder ranker, imagearena.folders.prompts; the folder generator and import-folder,
imagearena.generators.folder).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: The prompts files a folder may hold at its root, in the order they are looked for.
PROMPT_FILES = ("prompts.jsonl", "prompts.csv")
NAME_KEYS = ("file", "image", "filename", "path")
TEXT_KEYS = ("prompt", "text", "caption")
MAX_PROMPTS_FILE_BYTES = 64 * 1024 * 1024

#: One row of a prompts file: where it stands (``prompts.jsonl:3``), the image name, the prompt.
Row = tuple[str, str, str]


@dataclass
class PromptTable:
    """Image name (relative, or a bare file name) -> prompt, and the problems met reading the file."""

    prompts: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, message)

    def lookup(self, name: str) -> str | None:
        """The prompt for the relative ``name``: its own line first, then its bare file name's."""
        return self.prompts.get(name) or self.prompts.get(name.rsplit("/", 1)[-1])


def prompt_rows(path: Path, problems: list[tuple[str, str]]) -> Iterator[Row]:
    """The rows of the prompts file at ``path``, JSON Lines for ``.jsonl``/``.ndjson``, else CSV.

    A file over :data:`MAX_PROMPTS_FILE_BYTES` or not UTF-8 gives no rows and one problem; a bad line
    gives a problem and is skipped.
    """
    where = path.name
    try:
        if path.stat().st_size > MAX_PROMPTS_FILE_BYTES:
            problems.append((where, f"prompts file is over {MAX_PROMPTS_FILE_BYTES:,} bytes: skipped"))
            return
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append((where, f"cannot read the prompts file as UTF-8 text: {exc}"))
        return
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl_rows(text, where, problems)
    else:
        yield from _csv_rows(text, where, problems)


def _pick(row: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, str):
            return value
    return None


def _jsonl_rows(text: str, where: str, problems: list[tuple[str, str]]) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        here = f"{where}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((here, f"not valid JSON: {exc.msg}"))
            continue
        name = _pick(row, NAME_KEYS) if isinstance(row, dict) else None
        prompt = _pick(row, TEXT_KEYS) if isinstance(row, dict) else None
        if name is None or prompt is None:
            problems.append((here, 'expected {"file": "<image name>", "prompt": "<text>"}'))
            continue
        yield here, name, prompt


def _csv_rows(text: str, where: str, problems: list[tuple[str, str]]) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [str(c).strip().lower() for c in reader.fieldnames or []]
    if not any(k in columns for k in NAME_KEYS) or not any(k in columns for k in TEXT_KEYS):
        problems.append((where, "expected a header with columns 'file' and 'prompt'"))
        return
    for number, raw in enumerate(reader, start=2):
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        name, prompt = _pick(row, NAME_KEYS), _pick(row, TEXT_KEYS)
        if name is None or prompt is None:
            problems.append((f"{where}:{number}", "row lacks its file or its prompt"))
            continue
        yield f"{where}:{number}", name, prompt
