"""scripts/setup installs only when something an install depends on changed, and always pins with
constraints.txt. Tests never reach a package index, so .venv/bin/python here is a stand-in that records
the pip commands it is given and hands everything else to this interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PYTHON_STAND_IN = """#!/usr/bin/env bash
here=$(dirname "$0")
if [[ "$1 $2" == "-m pip" ]]; then
    echo "${@:3}" >>"$here/pip.log"
    touch "$here/installed"
    exit 0
fi
[[ -f "$here/installed" ]] || exit 1  # nothing installed yet: the import probe fails
exec "%s" "$@"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files scripts/setup reads, and a .venv whose python records pip calls."""
    (tmp_path / "scripts").mkdir()
    for name in ("scripts/setup", "pyproject.toml", "constraints.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(PYTHON_STAND_IN % sys.executable)
    python.chmod(0o755)
    return tmp_path


def _setup(checkout: Path, *args: str) -> list[str]:
    """Run scripts/setup; the pip commands it ran."""
    log = checkout / ".venv/bin/pip.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", "scripts/setup", *args], cwd=checkout, check=True, timeout=60)
    return log.read_text().splitlines() if log.exists() else []


def test_setup_installs_once_until_an_input_changes(checkout: Path) -> None:
    first = _setup(checkout)
    assert first == ["install --quiet --disable-pip-version-check -c constraints.txt -e ."]
    assert _setup(checkout) == []
    with (checkout / "constraints.txt").open("a") as constraints:
        constraints.write("# refreshed\n")
    assert _setup(checkout) == first
    assert _setup(checkout) == []
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# edited\n")
    assert _setup(checkout) == first


def test_setup_installs_again_when_the_package_no_longer_imports(checkout: Path) -> None:
    assert len(_setup(checkout)) == 1
    (checkout / ".venv/bin/installed").unlink()
    assert len(_setup(checkout)) == 1


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="the test install would apt-get chromium")
def test_a_test_install_covers_the_core_one_but_not_the_reverse(checkout: Path) -> None:
    assert len(_setup(checkout)) == 1
    test_install = _setup(checkout, "--test")
    assert [line.split()[-1] for line in test_install] == ["torch", ".[all,test]"]
    assert all("-c constraints.txt" in line for line in test_install)
    assert _setup(checkout, "--test") == []
    assert _setup(checkout) == []
