"""Storage of live studies on SQLite and PostgreSQL: settings round-trip, a live round's images recorded
with few statements (the same bytes again are the image already stored), prompts reused, and the daily
count of live images per generator that budgets are checked against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from live_helpers import png

from imagearena.media import inspect_image
from imagearena.storage import catalog, studies
from imagearena.storage.live import (
    LIVE_SOURCE_PREFIX,
    LiveImage,
    LiveSettingsRow,
    generated_since,
    generator_models,
    get_live_settings,
    live_prompt,
    record_live_images,
    save_live_settings,
)
from imagearena.storage.models import Model


def test_settings_round_trip(session):
    study = studies.create_study(session, "s")
    assert get_live_settings(session, study.id) is None
    save_live_settings(session, LiveSettingsRow(study.id, ("a", "b"), 3, {"a": 10}, ("p1", "p2")))
    save_live_settings(session, LiveSettingsRow(study.id, ("a", "c"), 0, {}, ()))
    session.commit()
    assert get_live_settings(session, study.id) == LiveSettingsRow(study.id, ("a", "c"), 0, {}, ())


def test_images_prompts_and_the_daily_count(session):
    study = studies.create_study(session, "s")
    other = catalog.get_or_create_prompt(session, "an old prompt", source="import")
    session.commit()
    assert live_prompt(session, "  an old prompt ") == other.id
    red, blue = inspect_image(png("red")), inspect_image(png("blue"))
    ids = generator_models(session, {"gen-a": {"backend": "procedural"}, "gen-b": {}})
    items = [
        LiveImage("gen-a", red, 7, LIVE_SOURCE_PREFIX + "{}", {}),
        LiveImage("gen-b", blue, 7, LIVE_SOURCE_PREFIX + "{}", {}),
    ]
    prompt_id, first = record_live_images(session, study, "a new prompt", items, ids)
    again_prompt, again = record_live_images(session, study, "a new prompt", items, ids)
    session.commit()
    assert again_prompt == prompt_id and again == first and len({r.image_id for r in first}) == 2
    assert [r.model_id for r in first] == [ids["gen-a"], ids["gen-b"]]
    assert generator_models(session, {"gen-a": {}}) == {"gen-a": ids["gen-a"]}
    # an imported image of the same model is not a live one
    catalog.add_image(session, study, session.get(Model, ids["gen-a"]), other, inspect_image(png("green")))
    session.commit()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert generated_since(session, study.id, today) == {"gen-a": 1, "gen-b": 1}
    assert generated_since(session, study.id, today + timedelta(days=1)) == {}
