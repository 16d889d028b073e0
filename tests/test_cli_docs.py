"""The docs are part of the product: every CLI command and every option must be written down.

The command tree is read from the Typer app itself, so a new command or option fails here until
README.md or a page under docs/ mentions it.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main

from imagearena.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _commands(group: click.Command, prefix: str = "imagearena") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}"
        found.append((path, command))
        found.extend(_commands(command, path))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_command_tree_is_read():
    names = {path for path, _ in COMMANDS}
    assert {"imagearena rate", "imagearena serve", "imagearena score", "imagearena db upgrade"} <= names


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_every_command_is_documented(path):
    assert re.search(rf"{re.escape(path)}\b", DOCS), f"`{path}` appears nowhere in README.md or docs/"


@pytest.mark.parametrize(
    ("path", "option"),
    [
        (path, opt)
        for path, command in COMMANDS
        if not hasattr(command, "commands")
        for param in command.params
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ],
)
def test_every_option_is_documented(path, option):
    assert re.search(rf"{re.escape(option)}\b", DOCS), f"`{path} {option}` appears nowhere in the docs"


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#:]+)\)", readme):
        assert (ROOT / target).exists(), f"README links to missing {target}"
