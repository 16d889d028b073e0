"""web/ type-checks under ``mypy --strict``: route return types, the app state's Arena, chart points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imagearena

PACKAGE = Path(imagearena.__file__).parent
MYPY = Path(sys.executable).with_name("mypy")


def test_web_is_strictly_typed() -> None:
    result = subprocess.run(
        [str(MYPY), "--strict", str(PACKAGE / "web")],
        cwd=PACKAGE.parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
