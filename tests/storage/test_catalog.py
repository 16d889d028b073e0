"""Repository functions for studies, the catalog and scores on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from imagearena.errors import ConflictError, InputError, UnknownNameError
from imagearena.media import ImageInfo
from imagearena.storage import catalog, rows, scores, studies
from imagearena.storage.engine import make_sessionmaker


def _image(session, study, model, prompt, sha="a" * 64):
    info = ImageInfo(sha256=sha, format="PNG", width=8, height=8, size_bytes=100)
    return catalog.add_image(session, study, model, prompt, info)


def test_studies_create_get_list(session):
    study = studies.create_study(session, "live-1", kind="live", title="Live")
    session.commit()
    assert studies.get_study(session, "live-1").id == study.id
    assert [s.name for s in studies.list_studies(session)] == ["live-1"]
    assert study.epoch == 0 and study.title == "Live"
    with pytest.raises(ConflictError):
        studies.create_study(session, "live-1")
    with pytest.raises(UnknownNameError, match="live-1"):  # the message lists what exists
        studies.get_study(session, "nope")
    assert studies.get_or_create_study(session, "live-1").id == study.id


@pytest.mark.parametrize("name", ["", "a b", "../x", "-x", "x" * 101, "é"])
def test_bad_study_names_are_refused(session, name):
    with pytest.raises(InputError):
        studies.create_study(session, name)


def test_bad_study_kind_is_refused(session):
    with pytest.raises(InputError, match="kind"):
        studies.create_study(session, "s", kind="weird")


def test_models_and_prompts_are_get_or_create(session):
    m1 = catalog.get_or_create_model(session, "sdxl", {"family": "sd"})
    m2 = catalog.get_or_create_model(session, "sdxl")
    p1 = catalog.get_or_create_prompt(session, "  a red cube \n")
    p2 = catalog.get_or_create_prompt(session, "a red cube")
    session.commit()
    assert m1.id == m2.id and m1.meta == {"family": "sd"}
    assert p1.id == p2.id and p1.text == "a red cube"
    assert catalog.find_prompt(session, "a red cube").id == p1.id
    with pytest.raises(InputError):
        catalog.get_or_create_prompt(session, "   ")
    with pytest.raises(InputError):
        catalog.get_or_create_model(session, "a/b")


def test_images_bind_model_and_prompt_and_dedupe(session):
    study = studies.create_study(session, "s")
    a, b = catalog.get_or_create_model(session, "A"), catalog.get_or_create_model(session, "B")
    p = catalog.get_or_create_prompt(session, "a cat")
    q = catalog.get_or_create_prompt(session, "a dog")
    img, created = _image(session, study, a, p)
    again, created_again = _image(session, study, a, p)
    assert created and not created_again and again.id == img.id
    _image(session, study, b, p)  # same bytes, another model: another image
    _image(session, study, a, q, sha="b" * 64)
    session.commit()
    assert catalog.count_images(session, study) == 3
    assert catalog.image_counts_by_model(session, study) == {"A": 2, "B": 1}
    assert [m.name for m in catalog.study_models(session, study)] == ["A", "B"]
    assert [x.text for x in catalog.study_prompts(session, study)] == ["a cat", "a dog"]
    images = catalog.list_images(session, study, prompt=p)
    assert {(i.model.name, i.prompt.text) for i in images} == {("A", "a cat"), ("B", "a cat")}
    assert catalog.get_image(session, img.id).sha256 == "a" * 64
    with pytest.raises(UnknownNameError):
        catalog.get_image(session, 10_000)


def test_scores_replace_on_rerun(session):
    study = studies.create_study(session, "s")
    img, _ = _image(
        session, study, catalog.get_or_create_model(session, "A"), catalog.get_or_create_prompt(session, "p")
    )
    scores.set_score(session, img, "clip", 0.25)
    scores.set_score(session, img, "clip", 0.5)
    scores.set_score(session, img, "hps", 1.0)
    session.commit()
    assert scores.scores_for(session, [img], "clip") == {img.id: 0.5}
    assert scores.scores_for(session, [], "clip") == {}


def test_get_or_create_survives_a_concurrent_creator(engine):
    """Another session creates the row between our lookup and our insert: the unique constraint
    fires inside a savepoint, and we return the other session's row with our transaction intact."""
    from sqlalchemy import select

    from imagearena.storage.models import Model

    Session = make_sessionmaker(engine)
    with Session() as first:
        catalog.get_or_create_model(first, "race")
        first.commit()
    with Session() as second:
        kept = catalog.get_or_create_model(second, "kept")  # work done earlier in the transaction
        lookups = []

        def find():  # the first lookup misses, as if it ran before the other session committed
            lookups.append(1)
            return None if len(lookups) == 1 else second.scalar(select(Model).where(Model.name == "race"))

        model, created = rows.get_or_create(second, find, lambda: Model(name="race", meta={}))
        second.commit()
        assert not created and model.name == "race" and len(lookups) == 2
    with Session() as check:
        names = list(check.scalars(select(Model.name).order_by(Model.name)))
        assert names == ["kept", "race"] and kept.name == "kept"
