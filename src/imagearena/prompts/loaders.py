"""Read a prompt set from a file or a Hugging Face dataset into one shape: the prompt texts in file
order, each with the row's other columns (category, challenge, id...) as metadata.

The format follows the file name: ``.txt`` (one prompt per line), ``.jsonl``/``.ndjson`` (an object
per line, or a bare string), ``.csv`` (DrawBench's ``Prompts,Category`` and any other header),
``.tsv`` (PartiPrompts' ``Prompt, Category, Challenge, Note``), ``.json`` (a list of objects or
strings: the ImageReward ``test.json`` and ``benchmark-prompts.json``). ``hf:OWNER/NAME`` reads a
dataset through ``datasets``, from the local cache when ``HF_HUB_OFFLINE`` is set.

The prompt column is the one named by ``column``, else the first of :data:`PROMPT_COLUMNS` the rows
have (any case). Blank prompts are skipped; every other row is kept, duplicates included, so a
prompt's position is its row's position among the non-blank ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagearena.errors import InputError, MissingDependencyError
from imagearena.text import check_text

#: Column names taken as the prompt when none is given, in this order, compared without case.
PROMPT_COLUMNS = ("prompt", "prompts", "text", "caption")
HF_PREFIX = "hf:"
TEXT_SUFFIXES = {".txt", ".text", ".lst", ""}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Prompt:
    """One prompt and the other fields of its row (strings from CSV/TSV, JSON values from JSON)."""

    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one source. ``fingerprint`` is a hash of the prompt texts in order: what an
    embedding depends on, so caches key on it (a changed category does not re-embed a set)."""

    name: str
    source: str
    prompts: tuple[Prompt, ...]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.prompts]


def fingerprint(texts: Iterable[str]) -> str:
    """sha256 over the texts, each followed by a NUL (which no prompt may contain)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def load_prompt_set(source: str | Path, *, column: str | None = None, split: str = "train") -> PromptSet:
    """The prompt set in ``source``: a file path (format by suffix) or ``hf:OWNER/NAME``."""
    text = str(source)
    if text.startswith(HF_PREFIX):
        name = text[len(HF_PREFIX) :].strip()
        if not name:
            raise InputError(
                "write a Hugging Face dataset as hf:OWNER/NAME, for example hf:nateraw/parti-prompts"
            )
        rows, where = _hf_rows(name, split), f"{text} ({split})"
        return _build(name, text, rows, column, where)
    path = Path(source).expanduser()
    if path.is_dir():
        raise InputError(
            f"{path} is a folder: give a prompt file (.txt, .jsonl, .csv, .tsv, .json) or hf:OWNER/NAME"
        )
    if not path.is_file():
        hint = (
            " (a Hugging Face dataset is written hf:OWNER/NAME)"
            if "/" in text and not path.parent.exists()
            else ""
        )
        raise InputError(f"prompt file {path} not found{hint}")
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        rows = _jsonl_rows(content, path)
    elif suffix == ".json":
        rows = _json_rows(content, path)
    elif suffix in TABLE_SUFFIXES:
        rows = _table_rows(content, TABLE_SUFFIXES[suffix])
    elif suffix in TEXT_SUFFIXES:
        return _build(path.stem, str(path), _text_rows(content), None, str(path))
    else:
        raise InputError(
            f"{path}: unknown prompt file type {suffix!r}; use .txt (one per line), .jsonl, .csv, .tsv or .json"
        )
    return _build(path.stem, str(path), rows, column, str(path))


# Rows are (line number or None, row); a row is a mapping of columns, or a bare string (the prompt).
Row = tuple[int | None, Mapping[str, Any] | str]


def _text_rows(content: str) -> list[Row]:
    return [(number, line) for number, line in enumerate(content.splitlines(), 1)]


def _jsonl_rows(content: str, path: Path) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return rows


def _json_rows(content: str, path: Path) -> list[Row]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of prompts or of objects with a prompt field")
    return [(None, row) for row in data]


def _table_rows(content: str, delimiter: str) -> list[Row]:
    """CSV with standard quoting; TSV (IANA text/tab-separated-values, PartiPrompts) has none: a
    field may start with a quote, as in ``"G I G G L E" painted ...``."""
    text = io.StringIO(content, newline="")
    if delimiter == "\t":
        reader = csv.reader(text, delimiter=delimiter, quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return []
    header = [h.strip() for h in header]
    rows: list[Row] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        rows.append((reader.line_num, dict(zip(header, cells, strict=False))))
    return rows


def _hf_rows(name: str, split: str) -> list[Row]:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("Hugging Face prompt sets", "prompts", "datasets") from None
    datasets.logging.disable_progress_bar()
    try:
        data = datasets.load_dataset(name, split=split)
    except Exception as exc:  # offline and not cached, no such dataset or split, a broken config
        raise InputError(
            f"cannot load the Hugging Face dataset {name} (split {split}): {type(exc).__name__}: {exc}. "
            "Offline, a dataset must be in the local cache: load it once where the hub can be reached, "
            "then set HF_HUB_OFFLINE=1; or download its files and give a .csv/.jsonl/.tsv path"
        ) from None
    columns = data.to_dict()
    names = list(columns)
    return [(None, {c: columns[c][i] for c in names}) for i in range(len(data))]


def prompt_column(columns: Sequence[str], column: str | None, where: str) -> str:
    """The column to read prompts from: ``column`` as given, else the first of PROMPT_COLUMNS."""
    if column is not None:
        if column not in columns:
            raise InputError(f"{where} has no column {column!r}; its columns: {', '.join(columns)}")
        return column
    by_lower = {c.lower(): c for c in reversed(columns)}
    for candidate in PROMPT_COLUMNS:
        if candidate in by_lower:
            return by_lower[candidate]
    raise InputError(
        f"{where}: no prompt column among {', '.join(columns) or 'no columns'}: name it with --column"
    )


def _build(name: str, source: str, rows: Sequence[Row], column: str | None, where: str) -> PromptSet:
    prompts: list[Prompt] = []
    key: str | None = None
    for number, row in rows:
        at = f"{where}:{number}" if number is not None else where
        if isinstance(row, str):
            text, metadata = row, {}
        elif isinstance(row, Mapping):
            if key is None or key not in row:
                key = prompt_column(list(row), column, at)
            value = row[key]
            if value is None:
                continue
            if not isinstance(value, str):
                raise InputError(f"{at}: the {key!r} field is {type(value).__name__}, not text")
            text, metadata = value, {k: v for k, v in row.items() if k != key}
        else:
            raise InputError(f"{at}: expected a prompt string or an object, got {type(row).__name__}")
        text = text.strip()
        if text:
            check_text(text, f"the prompt at {at}")
            prompts.append(Prompt(text, metadata))
    if not prompts:
        raise InputError(f"{where} holds no prompts")
    return PromptSet(name, source, tuple(prompts), fingerprint(p.text for p in prompts))
