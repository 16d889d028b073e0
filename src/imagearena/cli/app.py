"""The root Typer app. Command modules add themselves to it; keep their top-level imports light
(typer, rich, the standard library): heavy parts are imported inside each command."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from imagearena.cli.coercion import Group

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

#: Console width when output goes to a pipe or a file: wide enough that no line is wrapped or cut,
#: so logs stay greppable, one record per line.
UNWRAPPED_WIDTH = 100_000

app = typer.Typer(
    cls=Group,  # option values of the plain types converted without pydantic: cli/coercion.py
    name="imagearena",
    help="Evaluate text-to-image models: arena, leaderboards, folder ranker, reward scorers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def console(*, stderr: bool = False) -> Console:
    """A rich console for command output: the terminal's width on a terminal, and no wrapping
    (rich's default is 80 columns) when output is redirected."""
    from rich.console import Console

    terminal = Console(stderr=stderr)
    if terminal.is_terminal:
        return terminal
    return Console(stderr=stderr, width=UNWRAPPED_WIDTH)


class TableFormat(StrEnum):
    """--format of the commands that print a table or JSON."""

    table = "table"
    json = "json"


#: --format of the table-or-JSON commands (typer reads a shared default afresh each time).
TABLE_FORMAT_OPTION = typer.Option(TableFormat.table, "--format", "-f", help="table or json.")


class ReportFormat(StrEnum):
    """--format of the commands that also write CSV."""

    table = "table"
    json = "json"
    csv = "csv"


def transient_bar(
    title: str, *, out: Console | None = None, current: bool = False, disable: bool = False
) -> Progress:
    """The transient bar of long commands: title, bar, done/total, (the current item, from the task's
    `current` field), time left; on stderr unless `out` is given, so piped output stays clean."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[ProgressColumn] = [TextColumn(f"[bold]{title}"), BarColumn(), MofNCompleteColumn()]
    if current:
        columns.append(TextColumn("{task.fields[current]}", style="dim"))
    columns.append(TimeRemainingColumn())
    return Progress(*columns, console=out or console(stderr=True), transient=True, disable=disable)


def _print_version(value: bool) -> None:
    if value:
        from imagearena import __version__

        print(f"imagearena {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Evaluate text-to-image models: arena, leaderboards, folder ranker, reward scorers."""


@app.command()
def version() -> None:
    """Print the installed imagearena version."""
    from imagearena import __version__

    print(__version__)
