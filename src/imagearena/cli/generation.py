"""CLI command: `imagearena generators` lists the generators file's entries and, with --check, asks each
one's service whether it answers. Nothing is generated; keys are read from the environment, never shown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from imagearena.cli.app import app, console

if TYPE_CHECKING:
    from imagearena.generators.config import GeneratorConfig

GENERATORS_OPTION = typer.Option(
    None, "--generators", help="The generators TOML file (default: generators.toml in the data dir)."
)


def _where(config: GeneratorConfig) -> str:
    """The service's address (the backend's default when the entry names none), or the entry's file."""
    from imagearena.errors import ImageArenaError
    from imagearena.generators import generators

    path = config.options.get("path") or config.options.get("workflow")
    if config.base_url or path:
        return config.base_url or str(path)
    try:
        default = getattr(generators.factory(config.backend), "DEFAULT_BASE_URL", None)
    except ImageArenaError:
        return ""
    return str(default) if default else ""


def _key(config: GeneratorConfig) -> str:
    """The variable's name and whether it is set; never its value."""
    import os

    if not config.api_key_env:
        return ""
    state = "set" if os.environ.get(config.api_key_env, "").strip() else "NOT SET"
    return f"${config.api_key_env} ({state})"


def check_one(config: GeneratorConfig) -> tuple[bool, str]:
    """(answers, one line): build the generator and run its check, if it has one."""
    from imagearena.errors import ImageArenaError
    from imagearena.generators.config import create
    from imagearena.types import CheckableGenerator

    try:
        generator = create(config)
        try:
            if isinstance(generator, CheckableGenerator):
                return True, generator.check()
            return True, "nothing to reach"
        finally:
            close = getattr(generator, "close", None)
            if callable(close):
                close()
    except ImageArenaError as exc:
        return False, str(exc)


@app.command("generators")
def generators_command(
    check: bool = typer.Option(
        False, "--check", help="Ask each generator's service whether it answers (nothing is generated)."
    ),
    generators_file: Path | None = GENERATORS_OPTION,
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data folder holding generators.toml."),
) -> None:
    """List the configured generators; --check also tells which ones can be reached."""
    from rich.table import Table

    from imagearena.generators.config import load_generators
    from imagearena.settings import Settings

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    path = generators_file or settings.generators_path
    configs = load_generators(path)
    out = console()
    if not configs:
        out.print(f"{path} has no [generators.<name>] entries: see docs/generators.md")
        return
    table = Table(title=f"Generators in {path}")
    for column in ("Name", "Backend", "Model", "Where", "Key"):
        table.add_column(column)
    if check:
        table.add_column("Check")
    results: list[tuple[bool, str]] = []
    if check:  # services are asked at once, so one that hangs until its timeout delays the list once
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(8, len(configs))) as pool:
            results = list(pool.map(check_one, configs.values()))
    failed = 0
    details = []
    for index, (name, config) in enumerate(configs.items()):
        row = [name, config.backend, config.model or "", _where(config), _key(config)]
        if check:
            ok, line = results[index]
            failed += not ok
            row.append("[green]ok[/green]" if ok else "[red]FAILED[/red]")
            details.append(f"{name}: {line}")
        table.add_row(*row)
    out.print(table)
    for line in details:  # below the table, where long messages wrap as plain lines
        out.print(line, markup=False, highlight=False)
    if failed:
        out.print(f"{failed} of {len(configs)} generators failed the check")
        raise typer.Exit(1)
