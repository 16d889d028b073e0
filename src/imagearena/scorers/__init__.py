"""Reward scorers: automatic preference scores for (prompt, image) pairs.

Every backend, built-in or third-party, registers through the ``imagearena.scorers`` entry point
group; torch and model libraries are imported only when a scorer is created.
"""

from __future__ import annotations

from typing import Any

from imagearena.registry import Registry
from imagearena.types import Scorer

scorers: Registry[Scorer] = Registry("scorer", "imagearena.scorers")


def list_scorers() -> list[str]:
    return scorers.names()


def create_scorer(name: str, **kwargs: Any) -> Scorer:
    """Build a scorer by name; keyword arguments (weights=, device=, ...) go to its factory."""
    return scorers.create(name, **kwargs)
