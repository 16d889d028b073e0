"""The demo study: 8 prompts x 4 procedural models, created once, stored in the media store."""

from __future__ import annotations

from imagearena.arena.demo_data import DEMO_MODELS, DEMO_PROMPTS, seed_demo
from imagearena.storage import catalog, studies


def test_seed_demo_creates_a_complete_study_once(session, media_store):
    name = seed_demo(session, media_store, size=64)
    study = studies.get_study(session, name)
    assert (name, study.kind) == ("demo", "demo")
    images = catalog.list_images(session, study)
    assert len(images) == len(DEMO_PROMPTS) * len(DEMO_MODELS) == 32
    assert {m.name for m in catalog.study_models(session, study)} == set(DEMO_MODELS.values())
    assert [p.text for p in catalog.study_prompts(session, study)] == list(DEMO_PROMPTS)
    for image in images:  # every image is bound to its generator's model and stored
        assert image.source == f"procedural:{image.model.meta['style']}"
        assert image.model.name == DEMO_MODELS[image.model.meta["style"]]
        assert len(media_store.read(image.sha256)) == image.size_bytes
    assert len({i.sha256 for i in images}) == 32  # every image differs
    assert seed_demo(session, media_store, size=64) == "demo"
    assert len(catalog.list_images(session, study)) == 32


def test_seed_demo_completes_a_partial_study(session, media_store):
    """An interrupted first run (some images missing) is completed, nothing duplicated."""
    from imagearena.storage.models import Image

    seed_demo(session, media_store, size=32)
    study = studies.get_study(session, "demo")
    victims = catalog.list_images(session, study)[:5]
    for image in victims:
        session.delete(session.get(Image, image.id))
    session.commit()
    assert catalog.count_images(session, study) == 27
    seed_demo(session, media_store, size=32)
    images = catalog.list_images(session, study)
    assert len(images) == 32
    assert len({(i.model_id, i.prompt_id) for i in images}) == 32
