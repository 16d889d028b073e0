"""CLI commands: rating (`imagearena rate`). numpy and the ratings package load inside the command."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from imagearena.cli.app import app, console
from imagearena.errors import InputError
from imagearena.types import RatingMethod

if TYPE_CHECKING:
    from imagearena.types import RatingRow

FIELDS = ("model", "rating", "lower", "upper", "votes", "wins", "losses", "ties", "rank")


class CIChoice(StrEnum):
    sandwich = "sandwich"
    bootstrap = "bootstrap"


class FormatChoice(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


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
            wrong.append(f"--{name} applies to {where} only")
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
    fmt: FormatChoice = typer.Option(FormatChoice.table, "--format", "-f", help="Output format."),
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
    )
    if fmt is FormatChoice.json:
        print(rows_to_json(rows))
    elif fmt is FormatChoice.csv:
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
    100-row table, the same output. On a terminal rich fits every column to its width."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

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
    out = console()
    # Text, not str: rich then parses no markup and loads no emoji codes
    table = Table(title=Text(titles.get(method, method), style="table.title"))
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
