"""CLI commands: `imagearena serve` (the web arena) and `imagearena demo` (seed the demo study, then serve)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from imagearena.cli.app import app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from imagearena.settings import Settings

DB_OPTION = typer.Option(
    None,
    "--db",
    help="Database URL (sqlite:///path.db or postgresql+psycopg://...); default: SQLite in the data dir.",
)
HOST_OPTION = typer.Option(
    None, "--host", help="Interface to listen on (default 127.0.0.1; 0.0.0.0 for all)."
)
PORT_OPTION = typer.Option(None, "--port", help="Port to listen on (default 8000).")
DATA_DIR_OPTION = typer.Option(
    None, "--data-dir", help="Images, the default database and the keys (default ./imagearena-data)."
)
WORKERS_OPTION = typer.Option(1, "--workers", min=1, help="Server processes; each keeps its own match cache.")
ACCESS_LOG_OPTION = typer.Option(False, "--access-log/--no-access-log", help="Log every request.")


def _settings(db: str | None, host: str | None, port: int | None, data_dir: Path | None) -> Settings:
    from imagearena.settings import Settings

    overrides: dict[str, Any] = {}
    for key, value in (("db_url", db), ("host", host), ("port", port), ("data_dir", data_dir)):
        if value is not None:
            overrides[key] = value
    return Settings(**overrides)


def _check_port_free(host: str, port: int) -> None:
    """Fail with a clear message before printing a URL that another program answers."""
    import errno
    import socket

    from imagearena.errors import InputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    f"{host}:{port} is already in use: stop what listens there, or pass --port N"
                ) from None
            raise InputError(
                f"cannot listen on {host}:{port} ({exc.strerror}): check --host and --port"
            ) from None


def _serve(settings: Settings, workers: int, access_log: bool, study: str | None = None) -> None:
    """Print where the arena is and the admin token, then run uvicorn until interrupted."""
    import os

    import uvicorn
    from rich.console import Console

    from imagearena.arena.database import prepare_server, shown_url

    _check_port_free(settings.host, settings.port)
    admin = prepare_server(settings)  # the schema in an empty database, the data dir, the secrets
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}/" + (f"arena/{study}" if study else "")
    console = Console()
    console.print(f"[bold]imagearena[/] arena at [link={url}]{url}[/link]")
    console.print(f"Database: {shown_url(settings.database_url)}   Data: {settings.data_dir.resolve()}")
    console.print(f"Admin token (create studies, import, reset): [bold]{admin}[/]")
    console.print("Press Ctrl+C to stop.")
    target: FastAPI | str
    if workers == 1:
        from imagearena.web.app import create_app

        target = create_app(settings)
    else:
        # Worker processes rebuild the settings from the environment (see imagearena.web.app.app_from_env).
        env = {
            "data_dir": str(settings.data_dir.resolve()),
            "db_url": settings.database_url,
            "admin_token": admin,
        }
        for key, value in env.items():
            os.environ[f"IMAGEARENA_{key.upper()}"] = value
        target = "imagearena.web.app:app_from_env"
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        access_log=access_log,
        log_level="info" if access_log else "warning",
        timeout_keep_alive=30,
        backlog=4096,
    )


@app.command()
def serve(
    db: str | None = DB_OPTION,
    host: str | None = HOST_OPTION,
    port: int | None = PORT_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    workers: int = WORKERS_OPTION,
    access_log: bool = ACCESS_LOG_OPTION,
) -> None:
    """Serve the web arena: voting, leaderboards, history, studies and the JSON API under /api/v1."""
    _serve(_settings(db, host, port, data_dir), workers, access_log)


@app.command()
def demo(
    db: str | None = DB_OPTION,
    host: str | None = HOST_OPTION,
    port: int | None = PORT_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    workers: int = WORKERS_OPTION,
    access_log: bool = ACCESS_LOG_OPTION,
) -> None:
    """Create the demo study (procedurally drawn images, no model weights needed) and serve the arena."""
    from imagearena.arena.demo_data import create_demo

    settings = _settings(db, host, port, data_dir)
    study = create_demo(settings)
    _serve(settings, workers, access_log, study=study)
