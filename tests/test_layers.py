"""The layer order of DESIGN.md, as the import-linter contracts in pyproject.toml state it: the package
keeps it, and a contract breaks as soon as one import runs up a layer, or the CLI or the web app reaches
past arena/ into storage/ or SQLAlchemy, lazy imports included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import imagearena

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the contract of pyproject.toml over whichever ``imagearena`` the path finds first."""
    env = dict(os.environ, NO_COLOR="1")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONFIG)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_the_layers() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


UPWARD_IMPORTS = [
    # (module, code appended to it, the import the contract must name)
    ("types.py", "\n\ndef _probe() -> None:\n    import imagearena.cli\n", "imagearena.types -> imagearena.cli"),
    ("ratings/elo.py", "\nfrom imagearena import battlelog\n", "imagearena.ratings.elo -> imagearena.battlelog"),
    ("storage/engine.py", "\nimport imagearena.scorers\n", "imagearena.storage.engine -> imagearena.scorers"),
    ("web/__init__.py", "\nfrom imagearena.cli import app\n", "imagearena.web -> imagearena.cli.app"),
    # down a layer, but past arena/: the CLI and the web app use the database through arena/ only
    ("cli/db.py", "\nimport imagearena.storage.engine\n", "imagearena.cli.db -> imagearena.storage.engine"),
    (
        "web/app.py",
        "\n\ndef _probe() -> None:\n    from sqlalchemy.orm import Session\n",
        "imagearena.web.app -> sqlalchemy",
    ),
]


@pytest.mark.parametrize(("module", "code", "named"), UPWARD_IMPORTS, ids=[m for m, _, _ in UPWARD_IMPORTS])
def test_an_import_up_a_layer_breaks_the_contract(tmp_path: Path, module: str, code: str, named: str) -> None:
    """A copy of the package with one import added, up a layer or across two independent packages."""
    copy = tmp_path / "imagearena"
    shutil.copytree(Path(imagearena.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / module).open("a", encoding="utf-8") as source:
        source.write(code)
    result = _lint(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 kept, 1 broken" in result.stdout
    assert named in " ".join(result.stdout.split())
