"""`imagearena rate`: output formats through the real CLI, and clean errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import plugin_method
import pytest
from typer.testing import CliRunner

from imagearena.battlelog import read_battles
from imagearena.cli import app
from imagearena.errors import InputError

LOG = """model_a,model_b,winner,tstamp
sd15,sdxl,model_b,1
sdxl,flux,model_b,2
flux,sd15,model_a,3
sd15,flux,tie,4
sdxl,sd15,both_bad,5
flux,sdxl,model_a,6
"""
FIELDS = ["model", "rating", "lower", "upper", "votes", "wins", "losses", "ties", "rank"]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    p = tmp_path / "votes.csv"
    p.write_text(LOG)
    return p


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, ["rate", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("method", ["elo", "trueskill", "bt"])
def test_json_rows(log: Path, method: str) -> None:
    rows = json.loads(_run(str(log), "--method", method, "--format", "json"))
    assert [list(r) for r in rows] == [FIELDS] * 3
    assert rows[0]["model"] == "flux" and rows[0]["rank"] == 1
    flux = rows[0]
    assert (flux["votes"], flux["wins"], flux["losses"], flux["ties"]) == (4, 3, 0, 1)
    if method == "elo":
        assert flux["lower"] is None and flux["upper"] is None
    else:
        assert flux["lower"] < flux["rating"] < flux["upper"]
    key = [r["lower"] if method == "trueskill" else r["rating"] for r in rows]
    assert key == sorted(key, reverse=True)


def test_bt_centred_anchor_and_bootstrap(log: Path) -> None:
    rows = json.loads(_run(str(log), "--method", "bt", "--format", "json"))
    assert sum(r["rating"] for r in rows) / 3 == pytest.approx(1000.0)
    pinned = json.loads(_run(str(log), "-m", "bt", "--anchor", "sd15=1500", "-f", "json"))
    assert {r["model"]: r["rating"] for r in pinned}["sd15"] == pytest.approx(1500.0)
    boot = _run(str(log), "-m", "bt", "--ci", "bootstrap", "--rounds", "30", "--seed", "7", "-f", "json")
    assert boot == _run(
        str(log), "-m", "bt", "--ci", "bootstrap", "--rounds", "30", "--seed", "7", "-f", "json"
    )


def test_elo_k(log: Path) -> None:
    low = json.loads(_run(str(log), "--k", "4", "-f", "json"))
    high = json.loads(_run(str(log), "--k", "64", "-f", "json"))
    assert abs(low[0]["rating"] - 1000) < abs(high[0]["rating"] - 1000)


def test_csv_output(log: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_run(str(log), "-m", "elo", "-f", "csv"))))
    assert list(rows[0]) == FIELDS and len(rows) == 3
    assert rows[0]["lower"] == "" and float(rows[0]["rating"]) > 1000


def test_table_output(log: Path) -> None:
    out = _run(str(log), "-m", "bt")
    assert "Bradley-Terry" in out and "flux" in out and "Lower" in out


def test_user_errors_print_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("model_a,model_b,winner\nx,y,model_a\nx,y,draw\n")
    for args in ([str(bad)], [str(tmp_path / "missing.csv")], [str(bad), "--anchor", "x"]):
        proc = subprocess.run(
            [sys.executable, "-m", "imagearena", "rate", *args], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 1
        assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", "rate", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert "bad.csv line 3: unknown winner 'draw'" in proc.stderr


def test_cli_import_stays_light() -> None:
    """`imagearena --help` must not pay for numpy, pyarrow or the ratings engine: they load inside `rate`."""
    heavy = "('numpy', 'pyarrow', 'imagearena.ratings', 'imagearena.battlelog')"
    code = f"import sys, imagearena.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_rate_imports_only_what_its_work_needs(log: Path) -> None:
    """The whole `rate --method bt` process: no pandas (pyarrow's ``to_numpy`` would import it), no
    database or web stack, no pydantic (typer converts option values with it unless cli/coercion.py does),
    no rich (a redirected table is written as plain text)."""
    code = (
        "import sys\n"
        "from imagearena.cli import main\n"
        f"sys.argv = ['imagearena', 'rate', {str(log)!r}, '--method', 'bt']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('pandas', 'scipy', 'sqlalchemy', 'fastapi', 'torch', 'pydantic', 'rich')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "flux" in out.stdout, out.stderr
    assert out.stderr.strip() == "[]"


@pytest.mark.parametrize("method", ["elo", "trueskill", "bt"])
def test_redirected_table_is_what_rich_lays_out(
    tmp_path: Path, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The number columns get fixed widths when output is redirected: the table must be the one rich lays
    out by measuring every cell (wide characters and long names included)."""
    from rich.console import Console
    from rich.table import Table

    from imagearena.cli.app import UNWRAPPED_WIDTH
    from imagearena.cli.rating import print_table
    from imagearena.ratings import leaderboard

    p = tmp_path / "votes.csv"
    p.write_text(LOG.replace("sdxl", "漢字モデル").replace("flux", "flux-" + "x" * 90))
    rows = leaderboard(read_battles(p), method)
    print_table(rows, method, "sandwich")
    got = capsys.readouterr().out

    bounds = method != "elo"
    digits = 2 if method == "trueskill" else 1
    table = Table(title=got.splitlines()[0].strip())
    for header in ("Rank", "Model", "Rating", *(("Lower", "Upper") if bounds else ()), "Votes", "Wins"):
        table.add_column(header, justify="left" if header == "Model" else "right")
    table.add_column("Losses", justify="right")
    table.add_column("Ties", justify="right")
    for r in rows:
        numbers = (r.rating, r.lower, r.upper) if bounds else (r.rating,)
        table.add_row(
            str(r.rank),
            r.model,
            *(f"{v:.{digits}f}" for v in numbers),
            *map(str, (r.votes, r.wins, r.losses, r.ties)),
        )
    reference = Console(file=io.StringIO(), width=UNWRAPPED_WIDTH)
    reference.print(table)
    assert got == reference.file.getvalue()


def _refused(*args: str) -> str:
    """Run `rate` expecting a user error; its message."""
    result = CliRunner().invoke(app, ["rate", *args])
    assert result.exit_code == 1 and isinstance(result.exception, InputError), result.output
    return str(result.exception)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ci", "bootstrap"], "--ci applies to --method bt only"),
        (["-m", "trueskill", "--ci", "sandwich"], "--ci applies to --method bt only"),
        (["-m", "bt", "--k", "16"], "--k applies to --method elo only"),
        (["-m", "bt", "--rounds", "50"], "--rounds applies to --method bt --ci bootstrap only"),
        (["--seed", "3"], "--seed applies to --method bt --ci bootstrap only"),
        (["-m", "trueskill", "--anchor", "sd15=1000"], "--anchor applies to --method elo or bt only"),
        (["--prior-sd", "200"], "--prior-sd applies to --method bt only"),
    ],
)
def test_options_that_do_not_apply_are_refused(log: Path, args: list[str], message: str) -> None:
    assert message in _refused(str(log), *args)


def test_options_that_apply_are_accepted(log: Path) -> None:
    _run(str(log), "-m", "elo", "--k", "16", "--anchor", "sd15=1000", "-f", "json")
    _run(str(log), "-m", "bt", "--ci", "sandwich", "--anchor", "sd15=1000", "-f", "json")
    _run(str(log), "-m", "bt", "--ci", "bootstrap", "--rounds", "5", "--seed", "1", "-f", "json")


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("votes.csv", "model_a,model_b,winner,tstamp\n"),
        ("votes.csv", ""),
        ("votes.json", "[]"),
        ("votes.jsonl", "\n"),
        ("votes.txt", ""),
    ],
)
def test_an_empty_log_is_an_error(tmp_path: Path, filename: str, content: str) -> None:
    p = tmp_path / filename
    p.write_text(content)
    assert _refused(str(p)).startswith(f"no battles in {p}")


def test_jsonl_in_a_txt_file_is_read_as_json_lines(tmp_path: Path) -> None:
    rows = [
        dict(zip(("model_a", "model_b", "winner", "tstamp"), line.split(","), strict=True))
        for line in LOG.split()[1:]
    ]
    p = tmp_path / "votes.txt"
    p.write_text("".join(json.dumps(dict(r, tstamp=float(r["tstamp"]))) + "\n" for r in rows))
    out = json.loads(_run(str(p), "-f", "json"))
    assert out[0]["model"] == "flux" and out[0]["votes"] == 4


def test_a_bad_huge_line_is_not_dumped(tmp_path: Path) -> None:
    p = tmp_path / "votes.txt"
    p.write_text(json.dumps({"model_a": "x", "model_b": "y", "winner": "w" * 200_000}) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", "rate", str(p)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and "votes.txt line 1: unknown winner 'www" in proc.stderr
    assert len(proc.stderr) < 400


def test_output_is_not_wrapped_when_redirected(tmp_path: Path) -> None:
    """A pipe or a log file gets whole lines, whatever the width rich would guess (80 columns)."""
    name = "a-model-with-a-long-name-" + "x" * 150
    p = tmp_path / "votes.csv"
    p.write_text(LOG.replace("sdxl", name))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for method in ("elo", "bt"):
        proc = subprocess.run(
            [sys.executable, "-m", "imagearena", "rate", str(p), "-m", method],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        row = next(line for line in proc.stdout.splitlines() if name in line)
        cells = [cell.strip() for cell in row.split("│")]
        votes = cells[4] if method == "elo" else cells[6]  # bt adds Lower and Upper
        assert cells[2] == name and votes == "4"


def test_a_method_a_package_registers_rates(log: Path) -> None:
    with plugin_method.registered() as name:
        rows = json.loads(_run(str(log), "--method", name, "--format", "json"))
        table = _run(str(log), "--method", name, "--anchor", "flux=3")  # its options are its own to read
    assert [(r["model"], r["rating"], r["rank"]) for r in rows] == [
        ("flux", 3.0, 1),
        ("sdxl", 1.0, 2),
        ("sd15", 0.0, 3),
    ]
    assert name in table and "flux" in table


def test_an_unknown_method_names_the_registered_ones(log: Path) -> None:
    with plugin_method.registered() as name:
        message = _refused(str(log), "--method", "glicko")
    assert message.startswith("unknown rating method 'glicko'; use one of ")
    assert all(m in message for m in ("elo", "trueskill", "bt", name))


def test_prior_sd_keeps_an_unbeaten_model_near_the_field(tmp_path: Path) -> None:
    """flux wins all its battles: maximum likelihood sends it over a thousand points up; a 200 Elo
    prior keeps it within a few spreads, in the sandwich and the bootstrap fits alike."""
    p = tmp_path / "votes.csv"
    rows = ["model_a,model_b,winner"] + ["flux,sd15,model_a", "flux,sdxl,model_a"] * 10
    rows += ["sd15,sdxl,model_a", "sd15,sdxl,model_b"] * 5
    p.write_text("\n".join(rows) + "\n")

    def flux(*args: str) -> float:
        out = json.loads(_run(str(p), "-m", "bt", "-f", "json", *args))
        return float({r["model"]: r["rating"] for r in out}["flux"])

    assert flux() > 2500
    assert 1100 < flux("--prior-sd", "200") < 1800
    assert flux("--prior-sd", "200", "--ci", "bootstrap", "--rounds", "5") == flux("--prior-sd", "200")
    for bad in ("0", "-5", "nan"):
        assert "prior standard deviation" in _refused(str(p), "-m", "bt", "--prior-sd", bad)
