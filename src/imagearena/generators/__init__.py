"""Generator backends: turn (prompt, seed, parameters) into images and report what they used.

Built in: ``procedural`` (demo images drawn from the prompt, no model), ``folder`` (images already on
disk, matched to prompts), ``openai`` (the OpenAI-compatible Images API that many hosts speak),
``a1111`` (the AUTOMATIC1111 / Forge / SD.Next txt2img API), ``comfyui`` (a ComfyUI workflow with
the prompt and seed filled in, queued and awaited), ``diffusers`` (a local diffusers text-to-image
pipeline), ``google`` (Imagen and Gemini image models through google-genai, on the Gemini API or
Vertex AI) and ``vertex-endpoint`` (a model deployed on a Vertex AI endpoint, such as Model Garden's
Flux). Generators are named entries of a TOML file (imagearena.generators.config); the network backends
share one client (imagearena.generators.http).

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
    """Build a backend by name with keyword arguments (the file-driven way is config.create)."""
    return generators.create(name, **kwargs)
