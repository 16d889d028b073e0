"""The root Typer app. Command modules add themselves to it; keep their top-level imports light
(typer, rich, the standard library): heavy parts are imported inside each command."""

import typer

app = typer.Typer(
    name="imagearena",
    help="Evaluate text-to-image models: arena, leaderboards, folder ranker, reward scorers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Evaluate text-to-image models: arena, leaderboards, folder ranker, reward scorers."""


@app.command()
def version() -> None:
    """Print the installed imagearena version."""
    from imagearena import __version__

    print(__version__)
