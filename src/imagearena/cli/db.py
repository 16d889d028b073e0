"""CLI commands: `imagearena db upgrade|current` and `imagearena import-folder`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from imagearena.cli.app import app, transient_bar
from imagearena.types import RoundType

if TYPE_CHECKING:
    from imagearena.settings import Settings

db_app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DB_OPTION = typer.Option(
    None,
    "--db",
    help="Database URL (sqlite:///path.db or postgresql+psycopg://...); default: SQLite in the data dir.",
)
DATA_DIR_OPTION = typer.Option(None, "--data-dir", help="Where images and the default database live.")
SKIPPED_EXIT_CODE = 3  # import-folder ran, but some files were skipped (listed); the rest is imported


def load_settings(db: str | None, data_dir: Path | None) -> Settings:
    """Settings from the environment (IMAGEARENA_*), overridden by the command line."""
    from imagearena.settings import Settings

    overrides: dict[str, Any] = {}
    if db:
        overrides["db_url"] = db
    if data_dir:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


@db_app.command("upgrade")
def upgrade(db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Create the schema in a new database, or bring an existing one to this version's schema."""
    from imagearena.arena.database import upgrade as run_upgrade

    shown, revision = run_upgrade(load_settings(db, data_dir).database_url)
    print(f"Database {shown} is at schema revision {revision} (latest).")


@db_app.command("current")
def current(db: str | None = DB_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """Print the schema revision of the database and the one this version needs; creates nothing."""
    from imagearena.arena.database import revisions

    now, needed = revisions(load_settings(db, data_dir).database_url)
    print(f"database: {now or 'empty'}; this version needs: {needed}")


@app.command("import-folder")
def import_folder(
    directory: Path = typer.Argument(..., help="DIR holding one sub-folder of images per model."),
    study: str = typer.Option(..., "--study", help="Study to import into; created when missing."),
    round_type: RoundType | None = typer.Option(
        None,
        "--round-type",
        help="What a round of the study shows: pair, or four images to pick the best of (best4) or to "
        "order (order4). Sets an existing study's round type too. [default: pair for a new study]",
    ),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Import DIR/<model>/<images> with prompts from prompts.jsonl, prompts.csv or <image>.txt sidecars.

    Running it again imports only what is new. Bad files are listed and skipped, the rest is imported;
    top-level files that are not images (README, LICENSE) are ignored. Exit status: 0 when every file
    was imported or already present, 3 when some were skipped, 1 when the import could not run.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from imagearena.arena.importing import import_folder_into

    settings = load_settings(db, data_dir)
    console = Console()
    progress = transient_bar("Importing", out=console, current=True)
    task = progress.add_task("import", total=None, current="")
    with progress:
        report = import_folder_into(
            settings,
            directory,
            study,
            on_start=lambda total: progress.update(task, total=total),
            on_file=lambda rel: progress.update(task, advance=1, current=escape(rel[-40:])),
            round_type=None if round_type is None else round_type.value,
        )
    if report.problems:
        table = Table(title=f"Skipped {report.errors} file(s)", title_justify="left")
        table.add_column("file")
        table.add_column("problem")
        for problem in report.problems:
            table.add_row(escape(problem.path), escape(problem.message))
        console.print(table)
    if report.ignored:
        names = escape(", ".join(report.ignored))
        console.print(f"[dim]Ignored {len(report.ignored)} top-level file(s) that are not images: {names}[/]")
    models = escape(", ".join(sorted(report.models))) or "none"
    console.print(
        f"Study [bold]{escape(report.study)}[/]: imported {report.imported}, "
        f"already present {report.already}, errors {report.errors}; models: {models}"
    )
    if report.problems:
        raise typer.Exit(SKIPPED_EXIT_CODE)
