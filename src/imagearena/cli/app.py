"""The root Typer app. Command modules add themselves to it; keep their top-level imports light
(typer, rich, the standard library): heavy parts are imported inside each command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from imagearena.cli.coercion import Group

if TYPE_CHECKING:
    from rich.console import Console

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
