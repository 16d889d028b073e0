"""The demo study: a few prompts drawn by the procedural generator in four styles of visibly
different quality, so a fresh install shows a working arena without any model weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagearena.generators.procedural import STYLES, ProceduralGenerator

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from imagearena.media import MediaStore

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


def seed_demo(session: Session, store: MediaStore, *, size: int = 256) -> str:
    """Create (or complete) the demo study and commit; returns its name. Running it again adds nothing."""
    from imagearena.storage import catalog

    study = catalog.find_study(session, DEMO_STUDY)
    if study is None:
        study = catalog.get_or_create_study(session, DEMO_STUDY, kind="demo", title="Demo arena")
        study.description = (
            "Procedurally drawn images in four styles of different quality: no model weights needed."
        )
    expected = len(DEMO_PROMPTS) * len(STYLES)
    if catalog.count_images(session, study) >= expected:
        return study.name
    for style in STYLES:
        generator = ProceduralGenerator(style, size=size)
        model = catalog.get_or_create_model(
            session, DEMO_MODELS[style], {"generator": "procedural", "style": style, "size": size}
        )
        for text in DEMO_PROMPTS:
            prompt = catalog.get_or_create_prompt(session, text, source="demo")
            if any(
                image.model_id == model.id for image in catalog.list_images(session, study, prompt=prompt)
            ):
                continue
            info = store.put_pil(generator.generate(text, DEMO_SEED))
            catalog.add_image(
                session,
                study,
                model,
                prompt,
                sha256=info.sha256,
                format=info.format,
                width=info.width,
                height=info.height,
                size_bytes=info.size_bytes,
                source=f"procedural:{style}",
                seed=DEMO_SEED,
            )
    session.commit()
    return study.name
