"""Every name the ratings modules define is used somewhere in the package or documented in
docs/ratings.md: a helper that nothing calls is deleted, not kept for its own test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import imagearena

SRC = Path(imagearena.__file__).resolve().parent
ROOT = SRC.parents[1]
#: Where a use counts: the package, its entry points and the ratings documentation.
OUTSIDE = [ROOT / "docs" / "ratings.md", ROOT / "pyproject.toml"]
RATINGS = sorted((SRC / "ratings").glob("*.py"))
#: Names kept although only tests use them, and why.
KEPT = {"to_battles": "the inverse of the documented Battles.from_battles, checked by its round trip"}


def _defined_names(tree: ast.Module) -> set[str]:
    """Module-level functions, classes and constants, and the methods and properties of classes."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(n.name for n in node.body if isinstance(n, ast.FunctionDef))
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return {n for n in names if not (n.startswith("__") and n.endswith("__"))}


def _corpus() -> str:
    texts = [p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")]
    return "\n".join([*texts, *(p.read_text(encoding="utf-8") for p in OUTSIDE)])


@pytest.mark.parametrize("module", RATINGS, ids=[p.name for p in RATINGS])
def test_every_name_in_ratings_is_used_or_documented(module: Path) -> None:
    corpus = _corpus()
    unused = [
        name
        for name in sorted(_defined_names(ast.parse(module.read_text(encoding="utf-8"))))
        if name not in KEPT and len(re.findall(rf"\b{re.escape(name)}\b", corpus)) < 2
    ]
    assert not unused, f"{module.name} defines names nothing uses: {', '.join(unused)}"
