"""Nothing is promised that is not built: an install extra exists only where the code tells a user to
install it (a MissingDependencyError names it), `all` is every such extra, and the generator package
says which backends exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import imagearena.generators
from imagearena.generators import list_generators

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "imagearena"
NAMED_EXTRA = re.compile(r"MissingDependencyError\(\s*[^,]+,\s*\"(\w+)\"")


def extras() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["project"]["optional-dependencies"]


def extras_the_code_asks_for() -> set[str]:
    return {m for path in SRC.rglob("*.py") for m in NAMED_EXTRA.findall(path.read_text(encoding="utf-8"))}


def test_every_extra_is_one_the_code_asks_for() -> None:
    declared = set(extras()) - {"test", "all"}
    assert declared == extras_the_code_asks_for()


def test_all_installs_every_runtime_extra() -> None:
    [requirement] = extras()["all"]
    named = re.fullmatch(r"imagearena\[([\w,]+)\]", requirement)
    assert named is not None
    assert set(named.group(1).split(",")) == set(extras()) - {"test", "all"}


def test_generators_docstring_names_the_backends_that_exist() -> None:
    doc = imagearena.generators.__doc__ or ""
    for name in list_generators():
        assert name in doc
    assert "hosted" not in doc
