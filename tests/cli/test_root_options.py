"""Options of `imagearena` itself."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from imagearena import __version__
from imagearena.cli import app


def test_version_flag_prints_the_name_and_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"imagearena {__version__}\n"


def test_version_flag_as_a_whole_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"imagearena {__version__}\n", "")


def test_version_command_is_kept() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0 and result.output == f"{__version__}\n"
