"""Fixtures shared by tests/arena and tests/web: a small study on a real database (SQLite file or the
local PostgreSQL), and an Arena and in-process web client over it."""

from __future__ import annotations

import pytest

MODELS = ("alpha", "beta", "gamma")
PROMPTS = ("a red cube", "a blue ball", "a green cone", "a white star")
STUDY = "t2i"


def seed_study(session, store, name: str = STUDY, models=MODELS, prompts=PROMPTS) -> str:
    """One tiny distinct PNG per (model, prompt), bound to both at creation."""
    from PIL import Image

    from imagearena.storage import catalog

    study = catalog.get_or_create_study(session, name, title=f"Study {name}")
    for i, model_name in enumerate(models):
        model = catalog.get_or_create_model(session, model_name)
        for j, text in enumerate(prompts):
            prompt = catalog.get_or_create_prompt(session, text)
            info = store.put_pil(Image.new("RGB", (8, 8), (40 * i, 50 * j, len(name) * 7 % 255)))
            catalog.add_image(session, study, model, prompt, info)
    session.commit()
    return name


@pytest.fixture
def arena_settings(tmp_path, db_url):
    from imagearena.settings import Settings

    return Settings(data_dir=tmp_path / "data", db_url=db_url)


@pytest.fixture
def seeded(arena_settings):
    """The settings of a database holding the study STUDY."""
    from imagearena.media import MediaStore
    from imagearena.storage.engine import make_engine, make_sessionmaker

    engine = make_engine(arena_settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            seed_study(session, MediaStore(arena_settings.media_dir))
    finally:
        engine.dispose()
    return arena_settings


@pytest.fixture
def arena(seeded):
    from imagearena.arena.runtime import Arena

    arena = Arena(seeded)
    yield arena
    arena.close()


@pytest.fixture
def client(arena):
    from fastapi.testclient import TestClient

    from imagearena.web.app import create_app

    app = create_app(arena.settings, arena=arena, snapshot_interval_s=0, background_snapshots=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin_headers(arena) -> dict[str, str]:
    return {"Authorization": f"Bearer {arena.admin_token}"}
