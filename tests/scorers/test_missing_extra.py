"""Without the `score` extra every scorer fails through the real CLI with one line saying how to
install it, from a clone or a wheel: never a traceback. The packages are made unimportable in a
child process by a meta path finder that refuses them, as if they were not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imagearena import __version__
from imagearena.scorers import list_scorers

WITHOUT = """
import runpy, sys
from importlib.abc import MetaPathFinder

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = ["imagearena", *sys.argv[1:]]
runpy.run_module("imagearena", run_name="__main__")
"""


def score_without(blocked: set[str], scorer: str, folder: Path) -> subprocess.CompletedProcess[str]:
    code = WITHOUT.format(blocked=blocked)
    return subprocess.run(
        [sys.executable, "-c", code, "score", "--scorer", scorer, "--prompt", "a cat", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images")
    Image.new("RGB", (8, 8)).save(path / "a.png")
    return path


CASES = [(scorer, "torch") for scorer in [*list_scorers(), "clip,aesthetic"]]
# With torch present each child imports it (seconds): transformers is checked on two code paths only.
CASES += [("imagereward", "transformers"), ("blip", "transformers")]


@pytest.mark.parametrize(("scorer", "package"), CASES)
def test_missing_package_is_one_line_with_the_install_hint(scorer, package, folder):
    result = score_without({package}, scorer, folder)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"needs the '{package}' package (the 'score' extra)" in line
    assert "from a clone, pip install -e '.[score]'" in line
    assert f"from a wheel, pip install 'imagearena-{__version__}-py3-none-any.whl[score]'" in line


def test_the_postgresql_driver_hint_names_its_extra():
    from imagearena.errors import MissingDependencyError

    message = str(MissingDependencyError("PostgreSQL storage", "pg", "psycopg"))
    assert "pip install -e '.[pg]'" in message and f"imagearena-{__version__}-py3-none-any.whl[pg]" in message
