"""The small study every arena and web test starts from: its names, and the function that writes it.

A plain module (no fixtures): tests import the names from it, and tests/conftest.py seeds with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MODELS = ("alpha", "beta", "gamma")
PROMPTS = ("a red cube", "a blue ball", "a green cone", "a white star")
STUDY = "t2i"


def seed_study(
    session: Any,
    store: Any,
    name: str = STUDY,
    models: Sequence[str] = MODELS,
    prompts: Sequence[str] = PROMPTS,
) -> str:
    """One tiny distinct PNG per (model, prompt), bound to both at creation."""
    from PIL import Image

    from imagearena.storage import catalog, studies

    study = studies.get_or_create_study(session, name, title=f"Study {name}")
    for i, model_name in enumerate(models):
        model = catalog.get_or_create_model(session, model_name)
        for j, text in enumerate(prompts):
            prompt = catalog.get_or_create_prompt(session, text)
            info = store.put_pil(Image.new("RGB", (8, 8), (40 * i, 50 * j, len(name) * 7 % 255)))
            catalog.add_image(session, study, model, prompt, info)
    session.commit()
    return name
