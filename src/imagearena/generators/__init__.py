"""Generator backends: make images for prompts. Built in: ``procedural`` (demo images drawn from the
prompt, no model) and ``folder`` (images already on disk, matched to prompts).

Every backend, built-in or third-party, registers through the ``imagearena.generators`` entry point group.
"""

from __future__ import annotations

from typing import Any

from imagearena.registry import Registry
from imagearena.types import Generator

generators: Registry[Generator] = Registry("generator", "imagearena.generators")


def list_generators() -> list[str]:
    return generators.names()


def create_generator(name: str, **kwargs: Any) -> Generator:
    return generators.create(name, **kwargs)
