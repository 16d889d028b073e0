"""scorers/, generators/ and the scoring command and use case type-check under ``mypy --strict``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imagearena

PACKAGE = Path(imagearena.__file__).parent
MYPY = Path(sys.executable).with_name("mypy")
CHECKED = ["scorers", "generators", "cli/scoring.py", "arena/scoring.py"]


def test_scorers_generators_and_scoring_are_strictly_typed() -> None:
    result = subprocess.run(
        [str(MYPY), "--strict", *(str(PACKAGE / p) for p in CHECKED)],
        cwd=PACKAGE.parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
