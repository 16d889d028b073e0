"""`imagearena serve` and `imagearena demo`: options reach the settings; the CLI stays light to start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from imagearena.cli.app import app
from imagearena.cli.arena import _settings


def test_help_lists_serve_and_demo_with_their_options():
    runner = CliRunner()
    out = runner.invoke(app, ["--help"]).output
    assert "serve" in out and "demo" in out
    for command in ("serve", "demo"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        for option in ("--db", "--host", "--port", "--data-dir", "--workers"):
            assert option in text, (command, option)


def test_command_line_overrides_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEARENA_PORT", "9001")
    monkeypatch.setenv("IMAGEARENA_HOST", "0.0.0.0")
    s = _settings(None, None, None, None)
    assert (s.port, s.host) == (9001, "0.0.0.0")
    s = _settings("sqlite:///x.db", "127.0.0.2", 8123, tmp_path)
    assert (s.db_url, s.host, s.port, s.data_dir) == ("sqlite:///x.db", "127.0.0.2", 8123, Path(tmp_path))


def test_starting_the_cli_imports_no_web_or_database_stack():
    code = (
        "import sys, imagearena.cli; "
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'numpy', 'torch') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_a_port_in_use_is_a_clear_error_before_any_url_is_printed(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "imagearena", "serve", "--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr
    assert "arena at" not in done.stdout
