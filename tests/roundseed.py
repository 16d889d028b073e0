"""Four-image studies for the round tests: a study of five models on two prompts, with a round type."""

from __future__ import annotations

from typing import Any

from seeding import PROMPTS, seed_study

FIVE = ("m1", "m2", "m3", "m4", "m5")


def four_image_study(
    arena: Any, name: str = "four", round_type: str = "best4", models: tuple[str, ...] = FIVE
) -> str:
    """Create ``name`` with this round type and give every model an image for two prompts."""
    from imagearena.storage import studies

    with arena.session() as session:
        studies.create_study(session, name, round_type=round_type)
        seed_study(session, arena.media_store, name, models=models, prompts=PROMPTS[:2])
    return name
