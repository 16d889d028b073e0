"""Battle-log reading: CSV (fast and quoted paths), JSON list, JSONL; errors name the file and line."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imagearena.battlelog import parse_battles, read_battles
from imagearena.errors import InputError
from imagearena.ratings import Battles

ROWS = [
    {"model_a": "sd15", "model_b": "sdxl", "winner": "model_b", "tstamp": 3.0, "judge": "h1"},
    {"model_a": "sdxl", "model_b": "flux", "winner": "tie", "tstamp": 1.0, "judge": "h2"},
    {"model_a": "flux", "model_b": "sd15", "winner": "both_bad", "tstamp": 2.0, "judge": "h1"},
]


def _check(b) -> None:  # noqa: ANN001
    assert b.models == ["flux", "sd15", "sdxl"]
    assert [b.models[i] for i in b.a] == ["sd15", "sdxl", "flux"]
    assert [b.models[i] for i in b.b] == ["sdxl", "flux", "sd15"]
    assert b.outcome.tolist() == [1, 2, 3]
    assert b.tstamp is not None and b.tstamp.tolist() == [3.0, 1.0, 2.0]


def _csv(
    rows: list[dict], cols: tuple[str, ...] = ("model_a", "model_b", "winner", "tstamp", "judge")
) -> str:
    return "\n".join([",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]) + "\n"


def test_csv(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text(_csv(ROWS))
    _check(read_battles(p))


def test_csv_column_order_crlf_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    text = _csv(ROWS, ("judge", "tstamp", "winner", "model_b", "model_a")).replace("\n", "\r\n")
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    _check(read_battles(p))


def test_csv_quoted_fields_take_the_csv_module_path(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text(
        'model_a,model_b,winner,tstamp,judge\n"sd15","sdxl",model_b,3,"a, b"\nsdxl,flux,tie,1,x\nflux,sd15,both_bad,2,y\n'
    )
    _check(read_battles(p))


def test_csv_without_tstamp_keeps_file_order_and_bt_can_skip_it(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text(_csv(ROWS, ("model_a", "model_b", "winner")))
    assert read_battles(p).tstamp is None
    p.write_text(_csv(ROWS))
    assert read_battles(p, tstamps=False).tstamp is None


def test_csv_across_blocks(tmp_path: Path) -> None:
    """Many blocks (each with its own dictionary of names): codes and line numbers must carry over."""
    rows = [dict(ROWS[k % 3], tstamp=float(k)) for k in range(200)]
    rows[150] = dict(rows[150], winner="draw")
    p = tmp_path / "b.csv"
    p.write_text(_csv(rows[:150]))
    b = read_battles(p, block_size=64)
    assert len(b) == 150 and b.models == ["flux", "sd15", "sdxl"]
    assert b.outcome.tolist() == [1, 2, 3] * 50 and b.tstamp.tolist() == list(range(150))
    p.write_text(_csv(rows))
    with pytest.raises(InputError, match=r"b\.csv line 152: unknown winner 'draw'"):
        read_battles(p, block_size=64)


def test_json_list_and_jsonl(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text(json.dumps(ROWS))
    _check(read_battles(p))
    q = tmp_path / "b.jsonl"
    q.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    _check(read_battles(q))


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("csv", "model_a,model_b,winner\nx,y,model_a\nx,y,draw\n", r"line 3: unknown winner 'draw'"),
        ("csv", "model_a,model_b,winner\nx,y,model_a\nx,x,tie\n", r"line 3: model 'x' plays itself"),
        ("csv", "model_a,model_b,result\nx,y,model_a\n", r"missing column\(s\) winner"),
        ("csv", "model_a,model_b,winner\nx,y,model_a\nx,y\n", r"line 3: 2 fields where the header has 3"),
        ("csv", 'model_a,model_b,winner\n"x",y,tie\nx,y,"draw"\n', r"line 3: unknown winner 'draw'"),
        ("csv", "model_a,model_b,winner,tstamp\nx,y,tie,1\nx,y,tie,soon\n", r"line 3: tstamp 'soon'"),
        ("csv", "model_a,model_b,winner\nx,,tie\n", r"line 2: empty model name"),
        (
            "jsonl",
            '{"model_a":"x","model_b":"y","winner":"tie"}\n\n{"model_a":"x",\n',
            r"line 3: not valid JSON",
        ),
        (
            "jsonl",
            '{"model_a":"x","model_b":"y","winner":"tie"}\n\n{"model_a":"x","winner":"tie"}\n',
            r"line 3: missing key 'model_b'",
        ),
        (
            "jsonl",
            '{"model_a":"x","model_b":"y","winner":"tie"}\n{"model_a":"x","model_b":"y","winner":"win"}\n',
            r"line 2: unknown winner 'win'",
        ),
        ("json", '[{"model_a":"x","model_b":"y","winner":"tie"},', r"not valid JSON"),
        ("json", '{"model_a":"x"}', r"expected a JSON list"),
        ("json", '[{"model_a":"x","model_b":"x","winner":"tie"}]', r"item 1: model 'x' plays itself"),
        (
            "json",
            '[{"model_a":"x","model_b":"y","winner":"tie","tstamp":1},{"model_a":"x","model_b":"y","winner":"tie"}]',
            r"item 2: no tstamp",
        ),
    ],
)
def test_malformed_input_names_the_row(fmt: str, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_battles(content, fmt, name="votes")


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="extension"):
        read_battles(tmp_path / "votes.parquet")
    with pytest.raises(InputError, match="no such file"):
        read_battles(tmp_path / "votes.csv")


def test_fast_and_slow_csv_paths_agree(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = [f"model-{i}" for i in range(12)]
    a = rng.integers(0, 12, 500)
    b = (a + rng.integers(1, 12, 500)) % 12
    w = rng.choice(["model_a", "model_b", "tie", "both_bad"], 500)
    rows = [(names[x], names[y], z, k) for k, (x, y, z) in enumerate(zip(a, b, w, strict=True))]
    plain = "model_a,model_b,winner,tstamp\n" + "".join(f"{x},{y},{z},{k}\n" for x, y, z, k in rows)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(["model_a", "model_b", "winner", "tstamp"])
    writer.writerows(rows)
    quoted = out.getvalue()
    assert quoted.startswith('"model_a"')
    fast = parse_battles(plain, "csv")
    slow = parse_battles(quoted, "csv")
    assert fast.models == slow.models
    assert np.array_equal(fast.a, slow.a) and np.array_equal(fast.b, slow.b)
    assert np.array_equal(fast.outcome, slow.outcome) and np.array_equal(fast.tstamp, slow.tstamp)


def test_csv_names_first_seen_in_later_blocks() -> None:
    text = "model_a,model_b,winner\n" + "".join(f"m{k // 5},m{k // 5 + 1},model_a\n" for k in range(40))
    b = parse_battles(text, "csv", block_size=32)
    assert b.models == sorted(f"m{i}" for i in range(9))
    assert [b.models[i] for i in b.a] == [f"m{k // 5}" for k in range(40)]
    assert [b.models[i] for i in b.b] == [f"m{k // 5 + 1}" for k in range(40)]


def test_csv_rows_with_compensating_field_counts_are_not_misread() -> None:
    # one line a field short, a later one a field long: the totals match, the columns would shift
    text = "model_a,model_b,winner\nx,y,model_a\nx,model_b\ny,x,tie\nx,y,z,model_a\n"
    with pytest.raises(InputError, match=r"line 3: 2 fields where the header has 3"):
        parse_battles(text, "csv", name="votes")


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("votes.txt", "\n".join(json.dumps(r) for r in ROWS) + "\n"),
        ("votes.log", "\n  " + json.dumps(ROWS)),
        ("votes", _csv(ROWS)),
        ("votes.TXT", _csv(ROWS)),
    ],
)
def test_other_extensions_are_told_by_content(tmp_path: Path, filename: str, content: str) -> None:
    p = tmp_path / filename
    p.write_text(content)
    _check(read_battles(p))


def test_binary_formats_are_refused_by_extension(tmp_path: Path) -> None:
    p = tmp_path / "votes.xlsx"
    p.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(InputError, match=r"a \.xlsx file is not a battle log"):
        read_battles(p)
    with pytest.raises(InputError, match=r"a \.parquet file is not a battle log"):
        read_battles(tmp_path / "missing.parquet")


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("csv", "model_a,model_b,winner\nx,y," + "w" * 100_000 + "\n", r"line 2: unknown winner 'www"),
        (
            "csv",
            "model_a,model_b,winner\n" + "x" * 100_000 + "," + "x" * 100_000 + ",tie\n",
            r"line 2: model 'xxx.*plays itself",
        ),
        ("csv", "model_a,model_b," + "c" * 100_000 + "\nx,y,tie\n", r"missing column\(s\) winner"),
        (
            "jsonl",
            json.dumps({"model_a": "x", "model_b": "y", "winner": "w" * 100_000}),
            r"line 1: unknown winner",
        ),
        (
            "json",
            json.dumps([{"model_a": "x", "model_b": "y", "winner": "w" * 100_000}]),
            r"item 1: unknown winner",
        ),
    ],
)
def test_errors_quote_a_short_piece_of_a_huge_line(fmt: str, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_battles(content, fmt, name="votes")
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("csv", ""),
        ("csv", "model_a,model_b,winner\n"),
        ("json", "[]"),
        ("json", ""),
        ("jsonl", ""),
        ("jsonl", "\n\n"),
    ],
)
def test_empty_logs_have_no_battles(fmt: str, content: str) -> None:
    assert len(parse_battles(content, fmt)) == 0


def test_csv_line_numbers_count_blank_lines_and_quoted_newlines() -> None:
    text = 'model_a,model_b,winner,prompt\n\nx,y,tie,"a cat\non two\nlines"\n\nx,y,draw,dog\n'
    with pytest.raises(InputError, match=r"votes line 7: unknown winner 'draw'"):
        parse_battles(text, "csv", name="votes")
    b = parse_battles(text.replace("draw", "model_a"), "csv")
    assert b.outcome.tolist() == [2, 0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"model_a,model_b,winner\nx,y,tie\nx\xff,y,tie\n", r"votes line 3: not valid UTF-8"),
        (b"model_a,model_b,winner,tstamp\nx,y,tie,1\nx,y,tie,\n", r"votes line 3: tstamp is not a number"),
        (b" model_a , model_b ,winner\nx,y,tie\nx,y,nope\n", r"votes line 3: unknown winner 'nope'"),
    ],
)
def test_more_csv_errors_name_the_line(content: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_battles(content, "csv", name="votes")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"model_a":"x","model_b":"y","winner":"tie"}\n{"model_a":null,"model_b":"y","winner":"tie"}\n',
            "line 2",
        ),
        (
            '{"model_a":"x","model_b":"y","winner":"tie"}\n\n{"model_a":5,"model_b":"y","winner":"tie"}\n',
            "line 3",
        ),
        ('{"model_a":"x","model_b":"y","winner":"tie"}\n[1, 2]\n', r"line 2: expected an object"),
    ],
)
def test_jsonl_records_pyarrow_refuses_are_named_by_line(content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_battles(content, "jsonl", name="votes")


def test_jsonl_from_a_file_with_bom_and_string_tstamps(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl"
    lines = [json.dumps(dict(r, tstamp=str(r["tstamp"]))) for r in ROWS]
    p.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    _check(read_battles(p))


def test_csv_reader_matches_the_records_constructor_on_many_rows() -> None:
    rng = np.random.default_rng(1)
    names = [f"m{i}" for i in range(30)]
    a = rng.integers(0, 30, 5000)
    b = (a + rng.integers(1, 30, 5000)) % 30
    w = rng.choice(["model_a", "model_b", "tie", "both_bad", "tie (bothbad)"], 5000)
    text = "model_a,model_b,winner\n" + "".join(
        f"{names[x]},{names[y]},{z}\n" for x, y, z in zip(a, b, w, strict=True)
    )
    got = parse_battles(text, "csv", block_size=4096)
    want = Battles.from_records([names[x] for x in a], [names[y] for y in b], list(w))
    assert got.models == want.models
    assert np.array_equal(got.a, want.a) and np.array_equal(got.b, want.b)
    assert np.array_equal(got.outcome, want.outcome)


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed here")
def test_reading_a_log_does_not_import_pandas(tmp_path: Path) -> None:
    """pyarrow's ``to_numpy`` goes through its pandas conversion, which imports pandas (about half a second
    and 40 MB) wherever it is installed: the reader takes its arrays through DLPack instead."""
    with_tstamps = tmp_path / "votes.csv"
    with_tstamps.write_text(_csv(ROWS))
    without = tmp_path / "no-tstamps.csv"
    without.write_text(_csv(ROWS, ("model_a", "model_b", "winner")))
    lines = tmp_path / "votes.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    code = (
        "import sys\n"
        "from imagearena.battlelog import read_battles\n"
        "for path in sys.argv[1:]:\n"
        "    assert len(read_battles(path)) == 3\n"
        "print('pandas' in sys.modules)"
    )
    logs = [str(p) for p in (with_tstamps, without, lines)]
    out = subprocess.run([sys.executable, "-c", code, *logs], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


ROUND_CSV = """model_a,model_b,winner,tstamp,round_id,round_type
sd15,sdxl,model_b,1,,pair
sdxl,flux,model_a,2,7,best4
sdxl,sd15,model_a,2,7,best4
flux,sd15,tie,3,,pair
"""


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_round_id_becomes_the_group_column(fmt: str) -> None:
    rows = list(csv.DictReader(io.StringIO(ROUND_CSV)))
    if fmt == "csv":
        data = ROUND_CSV
    else:
        objs = [
            {**r, "tstamp": float(r["tstamp"]), "round_id": int(r["round_id"]) if r["round_id"] else None}
            for r in rows
        ]
        data = json.dumps(objs) if fmt == "json" else "".join(json.dumps(o) + "\n" for o in objs)
    b = parse_battles(data, fmt)
    assert b.group is not None and b.group.tolist() == [-1, 7, 7, -1]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_a_log_of_pair_votes_only_has_no_group_column(fmt: str) -> None:
    rows = [{**r, "round_id": None} for r in ROWS]
    data = {
        "csv": "model_a,model_b,winner,round_id\nsd15,sdxl,model_b,\nsdxl,flux,tie,\n",
        "jsonl": "".join(json.dumps(r) + "\n" for r in rows),
        "json": json.dumps(rows),
    }[fmt]
    assert parse_battles(data, fmt).group is None


@pytest.mark.parametrize(
    ("fmt", "data", "where"),
    [
        ("csv", "model_a,model_b,winner,round_id\nsd15,sdxl,model_b,\nsdxl,flux,tie,r7\n", "line 3"),
        ("csv", "model_a,model_b,winner,round_id\nsd15,sdxl,model_b,-4\n", "line 2"),
        ("jsonl", '{"model_a":"a","model_b":"b","winner":"tie","round_id":"x"}\n', "line 1"),
        ("json", '[{"model_a":"a","model_b":"b","winner":"tie","round_id":1.5}]', "item 1"),
    ],
)
def test_a_bad_round_id_names_its_line(fmt: str, data: str, where: str) -> None:
    with pytest.raises(InputError, match=f"{where}: round_id .* is not a round id"):
        parse_battles(data, fmt)
