"""The imagearena command run as a person runs it: a child process ``python -m imagearena`` that sees
no IMAGEARENA_ setting of this environment, only what its arguments say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def clean_env() -> dict[str, str]:
    """This process's environment without its IMAGEARENA_ settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IMAGEARENA_")}


def imagearena(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``imagearena ARGS`` in ``cwd`` to its end (two minutes at most), its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "imagearena", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=clean_env(),
    )
