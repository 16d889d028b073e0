"""CLI commands: rating (`imagearena rate`). numpy and the ratings package load inside the command."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from imagearena.cli.app import UNWRAPPED_WIDTH, ReportFormat, app, console
from imagearena.errors import InputError
from imagearena.types import RatingMethod

if TYPE_CHECKING:
    from imagearena.types import RatingRow

FIELDS = ("model", "rating", "lower", "upper", "votes", "wins", "losses", "ties", "rank")


class CIChoice(StrEnum):
    sandwich = "sandwich"
    bootstrap = "bootstrap"


def parse_anchor(text: str) -> tuple[str, float]:
    """``MODEL=RATING`` -> (model, rating); the model name may itself contain '='."""
    name, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = float("nan")
    if not sep or not name or rating != rating:
        raise InputError(f"--anchor {text!r}: write it as MODEL=RATING, for example --anchor sdxl=1000")
    return name, rating


def _bt_bootstrap(method: str, ci: CIChoice) -> bool:
    return method == RatingMethod.BT and ci is CIChoice.bootstrap


#: Options that change some built-in methods only: option -> (whether it applies to a method and CI,
#: where it does). A method a package registers gets them all and reads those that apply to it.
APPLIES: dict[str, tuple[Callable[[str, CIChoice], bool], str]] = {
    "k": (lambda method, ci: method == RatingMethod.ELO, "--method elo"),
    "ci": (lambda method, ci: method == RatingMethod.BT, "--method bt"),
    "rounds": (_bt_bootstrap, "--method bt --ci bootstrap"),
    "seed": (_bt_bootstrap, "--method bt --ci bootstrap"),
    "anchor": (lambda method, ci: method != RatingMethod.TRUESKILL, "--method elo or bt"),
    "prior_sd": (lambda method, ci: method == RatingMethod.BT, "--method bt"),
}
METHOD_HELP = (
    f"Rating method: {', '.join(RatingMethod)}, or one a package registers "
    "(entry point group imagearena.rating_methods)."
)


def refuse_options_that_do_not_apply(ctx: typer.Context, method: str, ci: CIChoice) -> None:
    """An option the chosen method ignores is an error, not a silent no-op (``--ci bootstrap`` with Elo)."""
    if method not in tuple(RatingMethod):
        return
    wrong = []
    for name, (applies, where) in APPLIES.items():
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
        if given and not applies(method, ci):
            wrong.append(f"--{name.replace('_', '-')} applies to {where} only")
    if wrong:
        run = f"--method {method}" + (f" --ci {ci.value}" if method == RatingMethod.BT else "")
        raise InputError(f"{'; '.join(wrong)} (this run: {run}); drop the option or change --method/--ci")


@app.command("rate")
def rate(
    ctx: typer.Context,
    votes: Path = typer.Argument(
        ..., help="Battle log: .csv, .json (a list) or .jsonl with model_a, model_b, winner[, tstamp]."
    ),
    method: str = typer.Option(RatingMethod.ELO.value, "--method", "-m", help=METHOD_HELP),
    k: float = typer.Option(32.0, "--k", help="Elo K factor."),
    ci: CIChoice = typer.Option(
        CIChoice.sandwich, "--ci", help="Bradley-Terry 95% interval: sandwich or bootstrap."
    ),
    rounds: int = typer.Option(100, "--rounds", min=1, help="Bootstrap rounds."),
    anchor: str | None = typer.Option(
        None, "--anchor", help="MODEL=RATING: pin one model's rating (elo, bt)."
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    prior_sd: float | None = typer.Option(
        None,
        "--prior-sd",
        help="Bradley-Terry: a Gaussian prior on the strengths with this spread (Elo points), so a model "
        "that wins every battle stays a few spreads out instead of thousands of points.",
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Rate models from a battle log and print the leaderboard, best first."""
    from imagearena.battlelog import read_battles
    from imagearena.ratings import leaderboard
    from imagearena.ratings.methods import rating_methods

    if method not in rating_methods:  # before the log is read
        raise InputError(f"unknown rating method {method!r}; use one of {', '.join(rating_methods.names())}")
    refuse_options_that_do_not_apply(ctx, method, ci)
    anchor_pair = parse_anchor(anchor) if anchor is not None else None
    battles = read_battles(votes, tstamps=method != RatingMethod.BT)
    if not len(battles):
        raise InputError(f"no battles in {votes}: the log needs rows with model_a, model_b and winner")
    rows = leaderboard(
        battles,
        method,
        k=k,
        ci=ci.value,
        rounds=rounds,
        anchor=anchor_pair,
        seed=seed,
        prior_sd=prior_sd,
    )
    if fmt is ReportFormat.json:
        print(rows_to_json(rows))
    elif fmt is ReportFormat.csv:
        print(rows_to_csv(rows), end="")
    else:
        print_table(rows, method, ci.value)


def rows_to_json(rows: list[RatingRow]) -> str:
    import json

    return json.dumps([{f: getattr(r, f) for f in FIELDS} for r in rows], indent=2)


def rows_to_csv(rows: list[RatingRow]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in rows:
        writer.writerow(["" if getattr(r, f) is None else getattr(r, f) for f in FIELDS])
    return out.getvalue()


def print_table(rows: list[RatingRow], method: str, ci: str) -> None:
    """The leaderboard as a rich table. Redirected output has no width limit, so the number columns
    are given their text's width and rich measures only the model names: a third less time for a
    100-row table, the same output. On a terminal rich fits every column to its width. Where rich
    would print plain ASCII text anyway (see `plain_table`), the same text is written without rich."""
    titles: dict[str, str] = {
        RatingMethod.ELO: "Online Elo",
        RatingMethod.TRUESKILL: "TrueSkill (mu; bounds mu -/+ 3 sigma, ranked by mu - 3 sigma)",
        RatingMethod.BT: f"Bradley-Terry (95% CI, {ci})",
    }
    bounds = method != RatingMethod.ELO
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
    digits = 2 if method == RatingMethod.TRUESKILL else 1
    body = []
    for r in rows:
        cells = [str(r.rank), r.model, f"{r.rating:.{digits}f}"]
        if bounds:
            cells += ["-" if v is None else f"{v:.{digits}f}" for v in (r.lower, r.upper)]
        body.append([*cells, str(r.votes), str(r.wins), str(r.losses), str(r.ties)])
    title = titles.get(method, method)
    text = plain_table(title, headers, body, left=1) if _plain_stdout() else None
    if text is not None:
        sys.stdout.write(text)
        return

    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    out = console()
    # Text, not str: rich then parses no markup and loads no emoji codes
    table = Table(title=Text(title, style="table.title"))
    for j, header in enumerate(headers):
        if header == "Model":
            table.add_column(Text(header))
        elif out.is_terminal:
            table.add_column(Text(header), justify="right")
        else:
            width = max(cell_len(line[j]) for line in [headers, *body])
            table.add_column(Text(header), justify="right", no_wrap=True, width=width)
    for line in body:
        table.add_row(*map(Text, line))
    out.print(table)


def _plain_stdout() -> bool:
    """Whether rich would write to stdout without styles and with its Unicode box: not a terminal, a
    UTF encoding (rich draws ASCII boxes otherwise), and nothing that makes rich treat it as a terminal
    or write otherwise (FORCE_COLOR, TTY_COMPATIBLE, Jupyter, IDLE, Windows consoles). In doubt,
    False: rich prints."""
    if os.name == "nt" or {"FORCE_COLOR", "TTY_COMPATIBLE"} & os.environ.keys():
        return False
    if {"IPython", "idlelib"} & sys.modules.keys():
        return False
    if not (getattr(sys.stdout, "encoding", None) or "utf-8").lower().startswith("utf"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return isatty is not None and not isatty()


def plain_table(title: str, headers: list[str], body: list[list[str]], *, left: int) -> str | None:
    """The text rich prints for this table (default box, title centred above it, column ``left`` left-
    justified and the others right-justified, each as wide as its widest cell) on a console without
    styles as wide as `UNWRAPPED_WIDTH`: a 100-row leaderboard in well under a millisecond instead of
    importing rich and laying out every cell (about 0.1 s of CPU). None where rich would do more than
    pad (a character that is not printable ASCII, whose width or handling is rich's to decide; a title
    wider than the table, which rich wraps): then rich prints."""
    cells = [title, *headers, *(cell for line in body for cell in line)]
    if not all(cell.isascii() and cell.isprintable() for cell in cells):
        return None
    widths = [max(len(line[j]) for line in [headers, *body]) for j in range(len(headers))]
    width = sum(widths) + 3 * len(widths) + 1
    if len(title) > width or width > UNWRAPPED_WIDTH:
        return None

    def row(line: list[str], bar: str) -> str:
        padded = (
            c.ljust(w) if j == left else c.rjust(w) for j, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        return bar + bar.join(f" {c} " for c in padded) + bar

    def rule(ends: str, line: str, cross: str) -> str:
        return ends[0] + cross.join(line * (w + 2) for w in widths) + ends[1]

    margin = (width - len(title)) // 2
    lines = [
        " " * margin + title + " " * (width - len(title) - margin),
        rule("┏┓", "━", "┳"),
        row(headers, "┃"),
        rule("┡┩", "━", "╇"),
        *(row(line, "│") for line in body),
        rule("└┘", "─", "┴"),
    ]
    return "\n".join(lines) + "\n"
