"""Read battle logs (JSON list, JSONL, CSV) into :class:`imagearena.ratings.Battles`.

The public arena log formats: objects (or CSV columns) with ``model_a``, ``model_b``, ``winner`` and an
optional ``tstamp``; other keys are ignored. Every malformed row is an :class:`InputError` that names
the file and its line (CSV, JSONL) or item (JSON list), never a silent tie.

CSV has a fast path for the common case of unquoted fields: the bytes are split in blocks and names
are mapped to integer codes through a dict, so a million rows parse in a fraction of a second and the
memory held is the output arrays plus one block. Quoted fields fall back to the ``csv`` module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import OUTCOME_CODES, OUTCOMES, Battles

REQUIRED = ("model_a", "model_b", "winner")
FORMATS = ("csv", "json", "jsonl")
#: Bytes per block on the CSV fast path.
BLOCK = 1 << 22


def read_battles(path: str | Path, *, fmt: str | None = None, tstamps: bool = True) -> Battles:
    """Read a battle log; the format comes from ``fmt`` or the file extension (.csv, .json, .jsonl/.ndjson).

    ``tstamps=False`` skips the tstamp column of a CSV (order-free methods such as Bradley-Terry do not
    need it, and parsing a million numbers is a fifth of the read time).
    """
    path = Path(path)
    if fmt is None:
        fmt = _guess_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown battle log format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a battle log file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the battle log ({exc.strerror or exc})") from None
    return parse_battles(data, fmt, name=str(path), tstamps=tstamps)


def parse_battles(data: bytes | str, fmt: str, *, name: str = "<input>", tstamps: bool = True) -> Battles:
    """Parse battle-log content already in memory (an upload, a test string)."""
    if isinstance(data, str):
        data = data.encode()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if fmt == "csv":
        return _parse_csv(data, name, tstamps)
    if fmt == "jsonl":
        return _parse_jsonl(data, name)
    if fmt == "json":
        return _parse_json(data, name)
    raise InputError(f"unknown battle log format {fmt!r}; use one of {', '.join(FORMATS)}")


def _guess_format(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".json":
        return "json"
    if ext in (".csv", ".txt"):
        return "csv"
    raise InputError(f"{path}: cannot tell the format from the extension; use .csv, .json or .jsonl")


# ---------------------------------------------------------------------------------------------- JSON


def _records_to_battles(records: Sequence[Any], name: str, label: str, first: int) -> Battles:
    model_a: list[Any] = []
    model_b: list[Any] = []
    winner: list[Any] = []
    tstamp: list[Any] = []
    for n, rec in enumerate(records, start=first):
        if not isinstance(rec, dict):
            raise InputError(f"{name} {label} {n}: expected an object with {', '.join(REQUIRED)}")
        try:
            model_a.append(rec["model_a"])
            model_b.append(rec["model_b"])
            winner.append(rec["winner"])
        except KeyError as exc:
            raise InputError(
                f"{name} {label} {n}: missing key {exc.args[0]!r}; each battle needs {', '.join(REQUIRED)}"
            ) from None
        tstamp.append(rec.get("tstamp"))
    has_ts = [t is not None for t in tstamp]
    if any(has_ts) and not all(has_ts):
        n = has_ts.index(False) + first
        raise InputError(f"{name} {label} {n}: no tstamp while other battles have one; give all or none")
    return _from_records(model_a, model_b, winner, tstamp if any(has_ts) else None, name, label, first)


def _from_records(
    model_a: Sequence[Any],
    model_b: Sequence[Any],
    winner: Sequence[Any],
    tstamp: Sequence[Any] | None,
    name: str,
    label: str,
    first: int,
) -> Battles:
    try:
        return Battles.from_records(model_a, model_b, winner, tstamp, first_row=first)
    except InputError as exc:
        msg = str(exc)
        if msg.startswith("row "):
            msg = f"{name} {label} {msg[4:]}"
        raise InputError(msg) from None


def _parse_jsonl(data: bytes, name: str) -> Battles:
    lines = data.split(b"\n")
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    try:  # one C call for the whole file; per-line decoding only to find a bad line
        records = json.loads(b"[" + b",".join(line for _, line in numbered) + b"]")
    except (json.JSONDecodeError, UnicodeDecodeError):
        for n, line in numbered:
            try:
                json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"{name} line {n}: not valid JSON ({exc})") from None
        raise InputError(f"{name}: not valid JSON Lines") from None
    return _records_with_lines(records, [n for n, _ in numbered], name)


def _records_with_lines(records: list[Any], line_numbers: list[int], name: str) -> Battles:
    """Validate records, reporting errors by file line (blank lines are skipped, so they differ)."""
    try:
        return _records_to_battles(records, name, "record", 1)
    except InputError as exc:
        msg = str(exc)
        prefix = f"{name} record "
        if msg.startswith(prefix):
            num, rest = msg[len(prefix) :].split(":", 1)
            msg = f"{name} line {line_numbers[int(num) - 1]}:{rest}"
        raise InputError(msg) from None


def _parse_json(data: bytes, name: str) -> Battles:
    try:
        records = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(records, list):
        raise InputError(f"{name}: expected a JSON list of battle objects (or use JSON Lines, .jsonl)")
    return _records_to_battles(records, name, "item", 1)


# ----------------------------------------------------------------------------------------------- CSV


def _parse_csv(data: bytes, name: str, tstamps: bool = True) -> Battles:
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    end = data.find(b"\n")
    header_line = data if end < 0 else data[:end]
    header = [h.strip() for h in header_line.decode("utf-8", "replace").split(",")]
    if b'"' in data or b"\r" in data:
        return _parse_csv_slow(data, name)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise _missing_columns(name, missing, header)
    body = b"" if end < 0 else data[end + 1 :]
    fast = _parse_csv_fast(body, header, name, tstamps)
    return fast if fast is not None else _parse_csv_slow(data, name)


def _missing_columns(name: str, missing: list[str], header: list[str]) -> InputError:
    return InputError(
        f"{name}: missing column(s) {', '.join(missing)} in the header line ({', '.join(header)}); "
        f"a battle CSV needs {', '.join(REQUIRED)} and optionally tstamp"
    )


def _parse_csv_fast(body: bytes, header: list[str], name: str, tstamps: bool) -> Battles | None:
    """Unquoted CSV in blocks; None when a row is irregular (the slow path then reports it)."""
    ncol = len(header)
    ia, ib, iw = (header.index(c) for c in REQUIRED)
    it = header.index("tstamp") if "tstamp" in header and tstamps else None
    names: dict[bytes, int] = {}
    win_codes = {k.encode(): v for k, v in OUTCOME_CODES.items()}
    parts_a: list[np.ndarray] = []
    parts_b: list[np.ndarray] = []
    parts_o: list[np.ndarray] = []
    parts_t: list[np.ndarray] = []
    row0 = 2  # line number of the block's first row (line 1 is the header)
    pos = 0
    while pos < len(body):
        stop = body.find(b"\n", pos + BLOCK)
        stop = len(body) if stop < 0 else stop
        block = body[pos:stop]
        pos = stop + 1
        if block.endswith(b"\n"):
            block = block[:-1]
        if not block:
            continue
        nrow = _regular_rows(block, ncol)
        if nrow is None:
            return None
        fields = block.replace(b"\n", b",").split(b",")
        col_a, col_b, col_w = fields[ia::ncol], fields[ib::ncol], fields[iw::ncol]
        try:  # after the first block every name is usually known: skip building sets
            a = np.fromiter(map(names.__getitem__, col_a), np.int32, nrow)
            b = np.fromiter(map(names.__getitem__, col_b), np.int32, nrow)
        except KeyError:
            for new in set(col_a).union(col_b).difference(names):
                names[new] = len(names)
            a = np.fromiter(map(names.__getitem__, col_a), np.int32, nrow)
            b = np.fromiter(map(names.__getitem__, col_b), np.int32, nrow)
        try:
            o = np.fromiter(map(win_codes.__getitem__, col_w), np.int8, nrow)
        except KeyError:
            bad = next(k for k, w in enumerate(col_w) if w not in win_codes)
            allowed = ", ".join(x.value for x in OUTCOMES)
            raise InputError(
                f"{name} line {row0 + bad}: unknown winner {col_w[bad].decode('utf-8', 'replace')!r}; "
                f"use one of {allowed}"
            ) from None
        if it is not None:
            col_t = fields[it::ncol]
            try:
                parts_t.append(np.array(col_t).astype(np.float64))
            except ValueError:
                for k, v in enumerate(col_t):
                    try:
                        float(v)
                    except ValueError:
                        raise InputError(
                            f"{name} line {row0 + k}: tstamp {v.decode('utf-8', 'replace')!r} is not a number"
                        ) from None
                raise
        same = np.flatnonzero(a == b)
        if len(same):
            k = int(same[0])
            raise InputError(
                f"{name} line {row0 + k}: model {col_a[k].decode('utf-8', 'replace')!r} plays itself; "
                "each battle needs two different models"
            )
        empty = names.get(b"")
        if empty is not None:
            k = int(np.flatnonzero((a == empty) | (b == empty))[0])
            raise InputError(f"{name} line {row0 + k}: empty model name")
        parts_a.append(a)
        parts_b.append(b)
        parts_o.append(o)
        row0 += nrow
        del fields, col_a, col_b, col_w
    try:
        decoded = [n.decode("utf-8") for n in names]
    except UnicodeDecodeError:
        raise InputError(f"{name}: model names are not valid UTF-8") from None
    # codes follow first appearance; renumber so models are sorted, as Battles.from_records does
    order = sorted(range(len(decoded)), key=decoded.__getitem__)
    perm = np.empty(len(order), dtype=np.int32)
    perm[order] = np.arange(len(order), dtype=np.int32)

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    a_all = perm[cat(parts_a, np.int32)] if names else cat(parts_a, np.int32)
    b_all = perm[cat(parts_b, np.int32)] if names else cat(parts_b, np.int32)
    ts = cat(parts_t, np.float64) if it is not None else None
    if ts is not None and np.isnan(ts).any():
        k = int(np.flatnonzero(np.isnan(ts))[0])
        raise InputError(f"{name} line {k + 2}: tstamp is not a number")
    return Battles([decoded[k] for k in order], a_all, b_all, cat(parts_o, np.int8), ts)


def _regular_rows(block: bytes, ncol: int) -> int | None:
    """Number of lines in ``block`` if every line has exactly ``ncol`` fields, else None.

    Counting all delimiters is not enough: a line with a field too many and another with one too few
    would balance out and shift every column in between, so each line's commas are checked to lie
    between its own newlines.
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    commas = np.flatnonzero(buf == 44)
    nrow = len(newlines) + 1
    if len(commas) != nrow * (ncol - 1):
        return None
    if ncol > 1 and nrow > 1:
        per_row = commas.reshape(nrow, ncol - 1)
        if np.any(per_row[:-1, -1] > newlines) or np.any(per_row[1:, 0] < newlines):
            return None
    return nrow


def _parse_csv_slow(data: bytes, name: str) -> Battles:
    import csv
    import io

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{name}: empty file; a battle CSV needs a header line") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise _missing_columns(name, missing, header)
    ia, ib, iw = (header.index(c) for c in REQUIRED)
    it = header.index("tstamp") if "tstamp" in header else None
    cols: tuple[list[str], ...] = ([], [], [], [])
    lines: list[int] = []
    for row in reader:
        if not row:
            continue  # blank line
        if len(row) != len(header):
            raise InputError(
                f"{name} line {reader.line_num}: {len(row)} fields where the header has {len(header)}"
            )
        lines.append(reader.line_num)
        cols[0].append(row[ia])
        cols[1].append(row[ib])
        cols[2].append(row[iw])
        if it is not None:
            cols[3].append(row[it])
    ts: list[Any] | None = None
    if it is not None:
        ts = []
        for v, n in zip(cols[3], lines, strict=True):
            try:
                ts.append(float(v))
            except ValueError:
                raise InputError(f"{name} line {n}: tstamp {v!r} is not a number") from None
    for k, (x, y) in enumerate(zip(cols[0], cols[1], strict=True)):
        if not x or not y:
            raise InputError(f"{name} line {lines[k]}: empty model name")
    try:
        return Battles.from_records(cols[0], cols[1], cols[2], ts)
    except InputError as exc:
        msg = str(exc)
        if msg.startswith("row "):
            num, rest = msg[4:].split(":", 1)
            msg = f"{name} line {lines[int(num) - 1]}:{rest}"
        raise InputError(msg) from None
