"""types.py, storage/ (its migrations too), arena/ and the CLI's database commands type-check under
``mypy --strict``: a frozen ``ImageInfo`` is a ``StoredImage``, rows and statements carry their column types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imagearena

PACKAGE = Path(imagearena.__file__).parent
MYPY = Path(sys.executable).with_name("mypy")
CHECKED = ["types.py", "storage", "arena", "cli/app.py", "cli/arena.py", "cli/db.py"]


def test_storage_arena_and_cli_are_strictly_typed() -> None:
    result = subprocess.run(
        [str(MYPY), "--strict", *(str(PACKAGE / p) for p in CHECKED)],
        cwd=PACKAGE.parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
