"""`rate`'s redirected table written without rich (`rating.plain_table`) is, byte for byte, what rich
prints for the same table; where it is not sure to be, rich prints."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from imagearena.cli.app import UNWRAPPED_WIDTH
from imagearena.cli.rating import plain_table, print_table
from imagearena.types import RatingRow

NAMES = {
    "typical": ["sdxl", "flux-dev", "sd15", "playground-v2.5"],
    "spaces": ["stable diffusion xl", "a  b", "trailing ", " leading", "x"],
    "long": ["x" * 300, "y"],
    "markup-like": ["[bold]not markup[/bold]", ":smile:", "a\\b", "org/model:v1.0"],
    "narrower than the title": ["a", "b"],
    "wide characters": ["漢字モデル", "flux"],
    "control characters": ["tab\there", "ok"],
}
METHODS = ["elo", "trueskill", "bt", "a-registered-method"]


def _rows(names: list[str], method: str) -> list[RatingRow]:
    bounds = method != "elo"
    return [
        RatingRow(
            model=name,
            rating=1234.5678 - 321.123 * i,
            lower=(1200.04 - 400 * i) if bounds else None,
            upper=(1300.06 - 300 * i) if bounds and i != 1 else None,
            votes=10**i,
            wins=7 * i,
            losses=3,
            ties=i % 2,
            rank=i + 1,
        )
        for i, name in enumerate(names)
    ]


def _rich_prints(title: str, headers: list[str], body: list[list[str]]) -> str:
    """The table rich lays out by measuring every cell, on the console redirected output gets."""
    table = Table(title=Text(title, style="table.title"))
    for header in headers:
        table.add_column(Text(header), justify="left" if header == "Model" else "right")
    for line in body:
        table.add_row(*map(Text, line))
    reference = Console(file=io.StringIO(), width=UNWRAPPED_WIDTH)
    reference.print(table)
    return reference.file.getvalue()


TITLES = {
    "elo": "Online Elo",
    "trueskill": "TrueSkill (mu; bounds mu -/+ 3 sigma, ranked by mu - 3 sigma)",
    "bt": "Bradley-Terry (95% CI, sandwich)",
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("names", NAMES.values(), ids=NAMES.keys())
def test_the_table_is_what_rich_prints(
    method: str, names: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    rows = _rows(names, method)
    print_table(rows, method, "sandwich")

    bounds = method != "elo"
    digits = 2 if method == "trueskill" else 1
    headers = [
        "Rank",
        "Model",
        "Rating",
        *(["Lower", "Upper"] if bounds else []),
        "Votes",
        "Wins",
        "Losses",
        "Ties",
    ]
    body = []
    for r in rows:
        numbers = [r.rating, *([r.lower, r.upper] if bounds else [])]
        cells = ["-" if v is None else f"{v:.{digits}f}" for v in numbers]
        body.append([str(r.rank), r.model, *cells, *map(str, (r.votes, r.wins, r.losses, r.ties))])
    assert capsys.readouterr().out == _rich_prints(TITLES.get(method, method), headers, body)


def test_plain_text_where_rich_would_only_pad() -> None:
    headers = ["Rank", "Model", "Rating"]
    body = [["1", "sdxl", "1010.5"], ["2", "stable diffusion xl", "990.0"]]
    text = plain_table("Online Elo", headers, body, left=1)
    assert text == _rich_prints("Online Elo", headers, body)
    assert text is not None and text.splitlines()[4] == "│    1 │ sdxl                │ 1010.5 │"
    # rich's to lay out: a title it wraps, a wide or non-printable character
    assert plain_table("A title wider than this small table of three columns", headers, body, left=1) is None
    assert plain_table("Online Elo", headers, [["1", "漢字", "1.0"]], left=1) is None
    assert plain_table("Online Elo", headers, [["1", "a\tb", "1.0"]], left=1) is None


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "ascii"])
def test_a_stdout_that_is_not_utf_gets_rich_ascii_box(monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    def redirected() -> io.TextIOWrapper:
        return io.TextIOWrapper(io.BytesIO(), encoding=encoding, newline="\n")

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr("sys.stdout", redirected())
    print_table(_rows(NAMES["typical"], "elo"), "elo", "sandwich")
    table = Table(title=Text("Online Elo", style="table.title"))
    for header in ("Rank", "Model", "Rating", "Votes", "Wins", "Losses", "Ties"):
        table.add_column(Text(header), justify="left" if header == "Model" else "right")
    for r in _rows(NAMES["typical"], "elo"):
        cells = (r.rank, r.model, f"{r.rating:.1f}", r.votes, r.wins, r.losses, r.ties)
        table.add_row(*(Text(str(c)) for c in cells))
    reference = Console(file=redirected(), width=UNWRAPPED_WIDTH)
    reference.print(table)
    got, expected = sys.stdout, reference.file
    got.flush()
    expected.flush()
    assert got.buffer.getvalue() == expected.buffer.getvalue()
    assert ("┏" in got.buffer.getvalue().decode(encoding)) == (encoding == "utf-8")
