"""The demo study: a few prompts drawn by the procedural generator in four styles of visibly
different quality, so a fresh install shows a working arena without any model weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagearena.generators.procedural import STYLES, ProceduralGenerator
from imagearena.types import StudyKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.media import MediaStore
    from imagearena.settings import Settings

DEMO_STUDY = "demo"
DEMO_PROMPTS = (
    "three yellow stars in a night sky",
    "a red ball above a blue ocean",
    "two purple cubes on snow",
    "an orange sun over a desert",
    "a green mountain at sunset",
    "a pink moon in a teal space",
    "five white balls on grass",
    "a gold star beside a black box",
)
# Contestant names as a voter sees them after voting; the style behind each is in the model's meta.
DEMO_MODELS = {
    "crisp": "procedural-crisp",
    "painterly": "procedural-painterly",
    "blurry": "procedural-blurry",
    "glitchy": "procedural-glitchy",
}
DEMO_SEED = 0


def create_demo(settings: Settings, *, size: int = 256) -> str:
    """`imagearena demo`: :func:`seed_demo` in the database and media store of ``settings`` (an empty
    database gets the schema first); returns the study's name."""
    from imagearena.arena.database import database_session
    from imagearena.media import MediaStore

    with database_session(settings.database_url) as session:
        return seed_demo(session, MediaStore(settings.media_dir), size=size)


def seed_demo(session: Session, store: MediaStore, *, size: int = 256) -> str:
    """Create (or complete) the demo study and commit; returns its name. Running it again adds nothing.

    Images are drawn with no transaction open and recorded in one short one at the end, so seeding
    next to a running server does not hold up its voters.
    """
    from imagearena.storage import catalog
    from imagearena.storage.studies import get_or_create_study

    study = get_or_create_study(
        session,
        DEMO_STUDY,
        kind=StudyKind.DEMO,
        title="Demo arena",
        description="Procedurally drawn images in four styles of different quality: no model weights needed.",
    )
    have = {(model, prompt) for model, prompt, _ in catalog.image_identities(session, study)}
    session.commit()
    missing = [
        (style, text)
        for style in STYLES
        for text in DEMO_PROMPTS
        if (DEMO_MODELS[style], catalog.prompt_digest(text)) not in have
    ]
    if not missing:
        return study.name
    generators = {style: ProceduralGenerator(style=style, size=size) for style in STYLES}
    drawn = [
        (style, text, store.put_pil(generators[style].render(text, DEMO_SEED))) for style, text in missing
    ]
    for style, text, info in drawn:
        model = catalog.get_or_create_model(
            session, DEMO_MODELS[style], {"generator": "procedural", "style": style, "size": size}
        )
        prompt = catalog.get_or_create_prompt(session, text, source="demo")
        catalog.add_image(
            session,
            study,
            model,
            prompt,
            info,
            source=f"procedural:{style}",
            seed=DEMO_SEED,
        )
    session.commit()
    return study.name
