"""Every function, class and method of the scorer and generator packages is used: referenced from the
package or the benchmarks, registered as an entry point, or shown as public API in the code of docs/*.md.
A name only its own test calls is dead code."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "src" / "imagearena" / "scorers", ROOT / "src" / "imagearena" / "generators"]
USERS = [ROOT / "src" / "imagearena", ROOT / "benchmarks"]
FRAMEWORK_HOOKS = {"forward"}  # torch calls nn.Module.forward through __call__


def definitions() -> Iterator[tuple[str, str]]:
    """(file:line, name) of every top-level function or class and every method in the packages."""
    for package in PACKAGES:
        for path in sorted(package.glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node.name
                if isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                            yield f"{path.relative_to(ROOT)}:{item.lineno}", item.name


def referenced_names() -> set[str]:
    names: set[str] = set()
    for folder in USERS:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, ast.Attribute):
                    names.add(node.attr)
                elif isinstance(node, ast.alias):
                    names.add(node.name.rpartition(".")[2])
    entry_points = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    names |= set(re.findall(r":(\w+)\"", entry_points))
    for doc in (ROOT / "docs").glob("*.md"):  # identifiers in code spans and code blocks: public API
        code = re.findall(r"```.*?```|`[^`\n]+`", doc.read_text(encoding="utf-8"), flags=re.DOTALL)
        names |= set(re.findall(r"\w+", " ".join(code)))
    return names | FRAMEWORK_HOOKS


@pytest.mark.parametrize(("where", "name"), list(definitions()))
def test_is_used(where: str, name: str) -> None:
    assert name in USED, f"{name} ({where}) is used nowhere: delete it, or document it in docs/"


USED = referenced_names()
