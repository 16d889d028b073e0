"""Read battle logs (CSV, JSON list, JSON Lines) into :class:`imagearena.ratings.Battles`.

The public arena log formats: objects (or CSV columns) with ``model_a``, ``model_b``, ``winner`` and an
optional ``tstamp``; other keys are ignored, except ``round_id``, which imagearena's own exports
(votes.jsonl, votes.csv) carry: the four-image round a battle was rank-broken from, empty or null for a
pair vote. It becomes the :attr:`Battles.group` column, so TrueSkill rates an exported round as one
multi-way update, as the server does; Elo and Bradley-Terry read the battles as plain pairs either way. Every malformed row is an :class:`InputError` that names
the file and its line (CSV, JSONL) or item (JSON list), never a silent tie, and quotes at most a short
piece of what it found there.

CSV and JSON Lines are parsed by pyarrow: names arrive dictionary-encoded, so a million rows become
three integer arrays without a Python object per row. pyarrow is imported inside the readers, so
``import imagearena.cli`` stays light. A JSON list, and any JSON Lines file pyarrow refuses, goes
through the standard ``json`` module, which also names the line of a bad record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imagearena.errors import InputError
from imagearena.ratings.battles import NO_GROUP, OUTCOME_CODES, OUTCOMES, Battles

if TYPE_CHECKING:
    import pyarrow as pa

REQUIRED = ("model_a", "model_b", "winner")
#: The optional column naming the four-image round a battle came from (empty/null: a pair vote).
ROUND_ID = "round_id"
FORMATS = ("csv", "json", "jsonl")
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: Extensions of formats that are not text: refused by name rather than misread.
NOT_TEXT = (".parquet", ".feather", ".arrow", ".xlsx", ".xls", ".zip", ".gz", ".bz2", ".xz", ".zst", ".db")
#: Bytes pyarrow parses at a time; the memory held beyond the output arrays is about one block.
BLOCK_SIZE = 1 << 20
#: Longest piece of a row quoted in an error message.
QUOTE_LIMIT = 60
BOM = b"\xef\xbb\xbf"

Source = Path | bytes


class _RowError(Exception):
    """A bad row found after parsing: its 0-based position; the reader turns it into a line number."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index = index
        self.problem = problem


def read_battles(
    path: str | Path, *, fmt: str | None = None, tstamps: bool = True, block_size: int = BLOCK_SIZE
) -> Battles:
    """Read a battle log; the format comes from ``fmt``, the extension (.csv, .json, .jsonl/.ndjson) or,
    for any other extension, the content (first character ``[``: JSON list, ``{``: JSON Lines, else CSV).

    ``tstamps=False`` skips the tstamp column of a CSV (order-free methods such as Bradley-Terry do not
    need it). ``block_size`` is the bytes pyarrow parses at a time.
    """
    path = Path(path)
    named = fmt if fmt is not None else format_from_extension(path)
    head = _head(path)  # a missing or unreadable file is a clear error before pyarrow sees it
    chosen = named if named is not None else format_from_content(head)
    return _parse(path, _checked_format(chosen), str(path), tstamps, block_size)


def parse_battles(
    data: bytes | str,
    fmt: str,
    *,
    name: str = "<input>",
    tstamps: bool = True,
    block_size: int = BLOCK_SIZE,
) -> Battles:
    """Parse battle-log content already in memory (an upload, a test string)."""
    if isinstance(data, str):
        data = data.encode()
    return _parse(data.removeprefix(BOM), _checked_format(fmt), name, tstamps, block_size)


def format_from_extension(path: Path) -> str | None:
    """The format a known extension names; None for others; binary formats are refused by name."""
    ext = path.suffix.lower()
    if ext in NOT_TEXT:
        raise InputError(
            f"{path}: a {ext} file is not a battle log; give a .csv, .json or .jsonl file "
            "(with another extension the format is told from the content)"
        )
    return EXTENSIONS.get(ext)


def format_from_content(head: bytes) -> str:
    """The format told by the first non-blank character: ``[`` a JSON list, ``{`` JSON Lines, else CSV."""
    first = head.removeprefix(BOM).lstrip()[:1]
    return {b"[": "json", b"{": "jsonl"}.get(first, "csv")


def _checked_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown battle log format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def _head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of the file; a missing or unreadable file is a clear error before any parsing."""
    try:
        with path.open("rb") as f:
            return f.read(size)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a battle log file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the battle log ({exc.strerror or exc})") from None


def _parse(source: Source, fmt: str, name: str, tstamps: bool, block_size: int) -> Battles:
    if fmt == "csv":
        return _read_csv(source, name, tstamps, block_size)
    if fmt == "jsonl":
        return _read_jsonl(source, name, block_size)
    return _read_json(_bytes(source), name)


def _bytes(source: Source) -> bytes:
    return source.read_bytes().removeprefix(BOM) if isinstance(source, Path) else source


def _arrow_input(source: Source) -> Any:
    import pyarrow as pa

    return str(source) if isinstance(source, Path) else pa.py_buffer(source)


def _pool() -> pa.MemoryPool:
    """The C allocator: it hands freed blocks back, where pyarrow's default pool keeps them (about 15 MB
    less peak memory for a million rows, at the same speed)."""
    import pyarrow as pa

    return pa.system_memory_pool()


def quoted(value: object) -> str:
    """``repr`` of a value from the input, cut to :data:`QUOTE_LIMIT` characters so a huge line is not dumped."""
    text = repr(value)
    return text if len(text) <= QUOTE_LIMIT else f"{text[: QUOTE_LIMIT - 3]}... ({len(text)} characters)"


# ------------------------------------------------------------------------------------ table -> Battles


def _battles_from_columns(
    model_a: pa.ChunkedArray,
    model_b: pa.ChunkedArray,
    winner: pa.ChunkedArray,
    tstamp: pa.ChunkedArray | None,
    round_id: pa.ChunkedArray | None = None,
) -> Battles:
    """Validate and encode parsed columns; a bad row raises :class:`_RowError` with its position."""
    side_a, side_b, winners = (_dictionary_chunks(c) for c in (model_a, model_b, winner))
    names = {v for chunk in side_a + side_b for v in chunk.dictionary.to_pylist()}
    models = sorted(v for v in names if isinstance(v, str) and v)
    index = {m: i for i, m in enumerate(models)}
    a = _codes(side_a, lambda v: index.get(v, -1), np.int32)
    _raise_first_bad(a, lambda k: _model_problem(model_a[k].as_py()))
    b = _codes(side_b, lambda v: index.get(v, -1), np.int32)
    _raise_first_bad(b, lambda k: _model_problem(model_b[k].as_py()))
    outcome = _codes(winners, lambda v: OUTCOME_CODES.get(v, -1), np.int8)
    _raise_first_bad(outcome, lambda k: _winner_problem(winner[k].as_py()))
    same = np.flatnonzero(a == b)
    if len(same):
        k = int(same[0])
        raise _RowError(
            k, f"model {quoted(models[a[k]])} plays itself; each battle needs two different models"
        )
    ts = _tstamps(tstamp) if tstamp is not None else None
    return Battles(models, a, b, outcome, ts, _groups(round_id) if round_id is not None else None)


def _dictionary_chunks(column: pa.ChunkedArray) -> list[pa.DictionaryArray]:
    """The column's chunks dictionary-encoded (the CSV reader already delivers them so)."""
    import pyarrow as pa

    return [c if pa.types.is_dictionary(c.type) else c.dictionary_encode() for c in column.chunks]


def _codes(chunks: list[pa.DictionaryArray], code_of: Callable[[Any], int], dtype: type) -> np.ndarray:
    """Codes of every row, written chunk by chunk into one array; -1 where ``code_of`` refuses a value."""
    out: np.ndarray = np.empty(sum(len(c) for c in chunks), dtype=dtype)
    start = 0
    for chunk in chunks:
        values = chunk.dictionary.to_pylist()
        lookup: np.ndarray = np.array([code_of(v) for v in values] + [-1], dtype=dtype)  # the last slot: null
        np.take(lookup, _indices(chunk.indices, null_slot=len(values)), out=out[start : start + len(chunk)])
        start += len(chunk)
    return out


def _numpy(array: pa.Array) -> np.ndarray:
    """A null-free numeric array as numpy, without a copy, through DLPack. ``Array.to_numpy`` goes through
    pyarrow's pandas conversion, which imports pandas (half a second) wherever it is installed."""
    view: np.ndarray = np.from_dlpack(array)
    return view


def _indices(indices: pa.Array, null_slot: int) -> np.ndarray:
    """Dictionary indices as numpy (no copy without nulls), nulls pointing at ``null_slot``."""
    if not indices.null_count:
        return _numpy(indices)
    as_float = indices.to_numpy(zero_copy_only=False)  # nulls come back as NaN (a bad row, so rare)
    return np.where(np.isnan(as_float), null_slot, as_float).astype(np.int64)


def _raise_first_bad(codes: np.ndarray, problem: Callable[[int], str]) -> None:
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        k = int(bad[0])
        raise _RowError(k, problem(k))


def _model_problem(value: object) -> str:
    if value is None:
        return "no model name"
    return "empty model name" if value == "" else f"model name {quoted(value)} is not a string"


def _winner_problem(value: object) -> str:
    return f"unknown winner {quoted(value)}; use one of {', '.join(o.value for o in OUTCOMES)}"


def _tstamps(column: pa.ChunkedArray) -> np.ndarray:
    ts: np.ndarray = column.to_numpy() if column.null_count else _numpy(column.combine_chunks())
    bad = np.flatnonzero(np.isnan(ts))  # nulls come back as NaN
    if len(bad):
        raise _RowError(int(bad[0]), "tstamp is not a number; give every row a tstamp, or none")
    return ts


def _groups(column: pa.ChunkedArray) -> np.ndarray | None:
    """Round ids as the :attr:`Battles.group` column (nulls: pair votes, ``NO_GROUP``); None when no
    battle names a round, so a log of pair votes stays on the methods' pair path."""
    if column.null_count == len(column):
        return None
    ids: np.ndarray = column.fill_null(NO_GROUP).to_numpy().astype(np.int64, copy=False)
    bad = np.flatnonzero(ids < NO_GROUP)
    if len(bad):
        raise _RowError(int(bad[0]), _round_id_problem(int(ids[bad[0]])))
    return ids


def _round_id_problem(value: object) -> str:
    return f"round_id {quoted(value)} is not a round id; give a non-negative integer, or leave it empty for a pair vote"


# ----------------------------------------------------------------------------------------------- CSV


def _read_csv(source: Source, name: str, tstamps: bool, block_size: int) -> Battles:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = _csv_header(source, name, block_size)
    if header is None:
        return Battles.empty()
    columns = _csv_columns(header, name, tstamps)
    bad_rows: list[Any] = []

    def on_bad_row(row: Any) -> str:
        bad_rows.append(row)
        return "error"

    dictionary = pa.dictionary(pa.int32(), pa.string())
    types = (
        {columns[c]: dictionary for c in REQUIRED}
        | ({columns["tstamp"]: pa.float64()} if "tstamp" in columns else {})
        | ({columns[ROUND_ID]: pa.int64()} if ROUND_ID in columns else {})
    )
    try:
        table = pacsv.read_csv(
            _arrow_input(source),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(include_columns=list(types), column_types=types),
            memory_pool=_pool(),
        )
    except pa.ArrowInvalid as exc:
        raise _csv_failure(source, name, columns, bad_rows, exc) from None
    try:
        return _battles_from_columns(
            table.column(columns["model_a"]),
            table.column(columns["model_b"]),
            table.column(columns["winner"]),
            table.column(columns["tstamp"]) if "tstamp" in columns else None,
            table.column(columns[ROUND_ID]) if ROUND_ID in columns else None,
        )
    except _RowError as exc:
        raise InputError(f"{name} line {_csv_line(_bytes(source), exc.index)}: {exc.problem}") from None


def _csv_header(source: Source, name: str, block_size: int) -> list[str] | None:
    """Column names of the first line (None for a blank file); a small first block keeps this cheap,
    the full block is tried when the header line is longer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if _is_blank(source):
        return None
    for size in dict.fromkeys((min(block_size, 1 << 16), block_size)):
        try:
            reader = pacsv.open_csv(
                _arrow_input(source),
                read_options=pacsv.ReadOptions(use_threads=False, block_size=size),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=_skip),
                memory_pool=_pool(),
            )
        except pa.ArrowInvalid as exc:
            error = exc
            continue
        names: list[str] = reader.schema.names
        reader.close()
        return names
    raise InputError(f"{name}: cannot read the CSV header line ({quoted(str(error))})")


def _is_blank(source: Source) -> bool:
    if isinstance(source, Path) and source.stat().st_size > 1 << 16:
        return False
    return not _bytes(source).strip()


def _skip(row: Any) -> str:
    return "skip"


def _csv_columns(header: list[str], name: str, tstamps: bool) -> dict[str, str]:
    """Required (and tstamp) columns mapped to their names as written (surrounding spaces allowed)."""
    written = {h.strip(): h for h in reversed(header)}
    missing = [c for c in REQUIRED if c not in written]
    if missing:
        shown = quoted(", ".join(h.strip() for h in header))[1:-1]
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)} in the header line ({shown}); "
            f"a battle CSV needs {', '.join(REQUIRED)} and optionally tstamp"
        )
    wanted = (*REQUIRED, *(("tstamp",) if tstamps else ()), ROUND_ID)
    return {c: written[c] for c in wanted if c in written}


def _csv_failure(
    source: Source, name: str, columns: dict[str, str], bad_rows: list[Any], exc: Exception
) -> InputError:
    """Turn pyarrow's refusal into a line-numbered message: wrong field count, bad UTF-8 or tstamp."""
    data = _bytes(source)
    if bad_rows:
        row = bad_rows[0]
        line = _csv_line(data, row.number - 2) if row.number is not None else "?"
        return InputError(
            f"{name} line {line}: {row.actual_columns} fields where the header has {row.expected_columns}"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        return InputError(f"{name} line {line}: not valid UTF-8 text")
    if "tstamp" in columns:
        found = _bad_value(data, columns["tstamp"], float)
        if found is not None:
            k, value = found
            return InputError(
                f"{name} line {_csv_line(data, k)}: tstamp {quoted(value)} is not a number; "
                "give every row a tstamp, or none"
            )
    if ROUND_ID in columns:
        found = _bad_value(data, columns[ROUND_ID], lambda v: v.strip() and int(v))
        if found is not None:
            k, value = found
            return InputError(f"{name} line {_csv_line(data, k)}: {_round_id_problem(value)}")
    return InputError(f"{name}: not a readable CSV battle log ({quoted(str(exc))})")


def _bad_value(data: bytes, column: str, parse: Callable[[str], object]) -> tuple[int, str] | None:
    """The first value of ``column`` that ``parse`` refuses (ValueError), read as text (only after
    pyarrow refused the column)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        pa.py_buffer(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(include_columns=[column], column_types={column: pa.string()}),
    )
    for k, value in enumerate(table.column(0).to_pylist()):
        try:
            parse(value or "")
        except ValueError:
            return k, value
    return None


def _csv_line(data: bytes, index: int) -> int:
    """The file line on which data row ``index`` (0-based, blank lines not counted) ends."""
    import csv
    import io

    reader = csv.reader(io.StringIO(data.decode("utf-8-sig", "replace"), newline=""))
    next(reader, None)  # the header
    seen = -1
    for row in reader:
        seen += bool(row)
        if seen == index:
            return reader.line_num
    return reader.line_num


# ---------------------------------------------------------------------------------------- JSON Lines


def _read_jsonl(source: Source, name: str, block_size: int) -> Battles:
    import pyarrow as pa
    import pyarrow.json as pajson

    schema = pa.schema(
        [(c, pa.string()) for c in REQUIRED] + [("tstamp", pa.float64()), (ROUND_ID, pa.int64())]
    )
    try:
        table = pajson.read_json(
            _arrow_input(source),
            read_options=pajson.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
            memory_pool=_pool(),
        )
        tstamp = table.column("tstamp")
        return _battles_from_columns(
            table.column("model_a"),
            table.column("model_b"),
            table.column("winner"),
            tstamp if tstamp.null_count < len(tstamp) else None,
            table.column(ROUND_ID),
        )
    except (pa.ArrowInvalid, _RowError):
        # pyarrow cannot name the line: the json module reads it again, line by line
        return _read_jsonl_by_line(_bytes(source), name)


def _read_jsonl_by_line(data: bytes, name: str) -> Battles:
    """JSON Lines through the json module: slower, but every error names its line."""
    numbered = [(n, line) for n, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
    records = []
    for n, line in numbered:
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{name} line {n}: not valid JSON ({exc})") from None
    try:
        return _records_to_battles(records, name, "record")
    except InputError as exc:
        msg = str(exc)
        prefix = f"{name} record "
        if msg.startswith(prefix):  # blank lines are skipped, so record and line numbers differ
            num, rest = msg[len(prefix) :].split(":", 1)
            msg = f"{name} line {numbered[int(num) - 1][0]}:{rest}"
        raise InputError(msg) from None


# ---------------------------------------------------------------------------------------- JSON list


def _read_json(data: bytes, name: str) -> Battles:
    if not data.strip():
        return Battles.empty()
    try:
        records = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(records, list):
        raise InputError(f"{name}: expected a JSON list of battle objects (or use JSON Lines, .jsonl)")
    return _records_to_battles(records, name, "item")


def _records_to_battles(records: Sequence[Any], name: str, label: str) -> Battles:
    """Decoded objects to battles; errors name the record as ``{name} {label} {n}`` (1-based)."""
    model_a: list[Any] = []
    model_b: list[Any] = []
    winner: list[Any] = []
    tstamp: list[Any] = []
    group: list[Any] = []
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise InputError(f"{name} {label} {n}: expected an object with {', '.join(REQUIRED)}")
        missing = [c for c in REQUIRED if c not in rec]
        if missing:
            raise InputError(
                f"{name} {label} {n}: missing key {missing[0]!r}; each battle needs {', '.join(REQUIRED)}"
            )
        model_a.append(rec["model_a"])
        model_b.append(rec["model_b"])
        winner.append(rec["winner"])
        tstamp.append(rec.get("tstamp"))
        round_id = rec.get(ROUND_ID)
        if (
            round_id is not None
            and round_id != ""
            and (isinstance(round_id, bool) or not isinstance(round_id, int))
        ):
            raise InputError(f"{name} {label} {n}: {_round_id_problem(round_id)}")
        group.append(None if round_id == "" else round_id)
    has_ts = [t is not None for t in tstamp]
    if any(has_ts) and not all(has_ts):
        n = has_ts.index(False) + 1
        raise InputError(f"{name} {label} {n}: no tstamp while other battles have one; give all or none")
    try:
        return Battles.from_records(
            model_a,
            model_b,
            winner,
            tstamp if any(has_ts) else None,
            group=group if any(g is not None for g in group) else None,
        )
    except InputError as exc:
        msg = str(exc)
        if msg.startswith("row "):
            msg = f"{name} {label} {msg[4:]}"
        raise InputError(_shortened(msg)) from None


def _shortened(message: str, limit: int = 4 * QUOTE_LIMIT) -> str:
    """Cap a message built elsewhere that may quote a whole record."""
    return message if len(message) <= limit else f"{message[: limit - 3]}..."
