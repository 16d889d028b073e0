"""Generator backends: make images for prompts (procedural demo, folder of images, diffusers, hosted APIs).

Every backend registers through the ``imagearena.generators`` entry point group.
"""

from __future__ import annotations

from imagearena.registry import Registry
from imagearena.types import Generator

generators: Registry[Generator] = Registry("generator", "imagearena.generators")


def list_generators() -> list[str]:
    return generators.names()


def create_generator(name: str, **kwargs) -> Generator:
    return generators.create(name, **kwargs)
