"""Each record shape is defined once: a shape that extends another derives from it (or holds it) instead
of spelling its fields again, so the two cannot drift apart."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from itertools import combinations

import pytest
from pydantic import BaseModel

import imagearena.arena
import imagearena.storage

SHARED_LIMIT = 6  # this many common field names make two shapes one shape spelled twice


def _modules() -> list[str]:
    names = ["imagearena.types", "imagearena.web.api", "imagearena.web.charts"]
    for package in (imagearena.arena, imagearena.storage):
        names += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    return names


def _shapes() -> dict[type, set[str]]:
    shapes: dict[type, set[str]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            if dataclasses.is_dataclass(cls):
                shapes[cls] = {f.name for f in dataclasses.fields(cls)}
            elif issubclass(cls, BaseModel) and cls is not BaseModel:
                shapes[cls] = set(cls.model_fields)
    return shapes


def _pairs() -> list[tuple[type, type, set[str]]]:
    """Pairs of unrelated shapes and the field names they both spell (fields of a shared base excluded)."""
    shapes = _shapes()
    pairs = []
    for a, b in combinations(shapes, 2):
        if issubclass(a, b) or issubclass(b, a):
            continue
        inherited = set().union(
            *(shapes.get(base, set()) for base in set(a.__mro__[1:]) & set(b.__mro__[1:]))
        )
        pairs.append((a, b, (shapes[a] & shapes[b]) - inherited))
    return pairs


def test_the_shapes_are_found() -> None:
    shapes = _shapes()
    names = {cls.__name__ for cls in shapes}
    assert {"StudyRow", "StudySummary", "MatchClaims", "MatchVote", "RatingRow", "RowOut"} <= names


@pytest.mark.parametrize(
    "pair",
    [
        "StudySummary/StudyRow",
        "MatchVote/MatchClaims",
        "RowOut/RatingRow",
        "CurrentPoint/SnapshotPoint",
        "HistoryItem/VoteRecord",
        "StudyOut/StudyRow",
        "HistoryItemOut/HistoryItem",
    ],
)
def test_a_shape_is_not_spelled_twice(pair: str) -> None:
    first, second = pair.split("/")
    for a, b, shared in _pairs():
        assert {a.__name__, b.__name__} != {first, second} or len(shared) < SHARED_LIMIT, (
            f"{a.__qualname__} and {b.__qualname__} repeat {sorted(shared)}"
        )
