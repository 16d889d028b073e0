"""Contestants owned by one study (a folder study's images): one model and one image per file version,
names unique per study only, images marked missing and back without deleting anything, and the match
pool's view of them; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imagearena.errors import InputError
from imagearena.storage import catalog, studies
from imagearena.storage.catalog import FolderFile
from imagearena.storage.models import Image, Model


def _file(path: str, size: int = 100, mtime_ns: int = 1) -> FolderFile:
    return FolderFile(path=path, size=size, mtime_ns=mtime_ns, format="PNG", width=8, height=8)


def test_contestants_are_owned_by_their_study_and_named_by_their_path(session: Session) -> None:
    a = studies.create_study(session, "folder-a", kind="folder", round_type="best4", source="/pics")
    b = studies.create_study(session, "folder-b", kind="folder")
    prompt = catalog.get_or_create_prompt(session, "a folder")
    global_model = catalog.get_or_create_model(session, "x.png")  # a global model may share the name
    long_path = "deep/" * 150 + "x.png"  # 755 characters
    for study in (a, b):
        for path in ("x.png", "sub/y.png", long_path):
            catalog.add_contestant(session, study, prompt, _file(path))
    session.commit()
    assert studies.find_study(session, "folder-a").round_type == "best4"
    assert studies.study_source(session, a.id) == "/pics"
    assert [c.name for c in catalog.study_contestants(session, a.id)] == sorted(
        ["x.png", "sub/y.png", long_path]
    )
    assert catalog.find_model(session, "x.png").id == global_model.id  # lookups by name stay global
    owned = catalog.model_ids(session, ["x.png"], a.id)["x.png"]
    assert owned != global_model.id and catalog.model_ids(session, ["x.png"])["x.png"] == global_model.id
    image, created = catalog.add_contestant(session, a, prompt, _file("x.png"))  # unchanged: the same
    assert not created and image.source == "x.png"
    assert image.sha256 == catalog.file_fingerprint("x.png", 100, 1)
    assert session.scalar(select(func.count(Model.id)).where(Model.study_id == a.id)) == 3


def test_a_file_changed_in_place_is_a_new_image_of_the_same_contestant(session: Session) -> None:
    study = studies.create_study(session, "f", kind="folder")
    prompt = catalog.get_or_create_prompt(session, "p")
    old, _ = catalog.add_contestant(session, study, prompt, _file("a.png", mtime_ns=1))
    new, created = catalog.add_contestant(session, study, prompt, _file("a.png", mtime_ns=2))
    assert created and new.model_id == old.model_id and new.sha256 != old.sha256


def test_missing_images_leave_the_pool_and_come_back_without_deletes(session: Session) -> None:
    study = studies.create_study(session, "f", kind="folder")
    prompt = catalog.get_or_create_prompt(session, "p")
    ids = [catalog.add_contestant(session, study, prompt, _file(f"{i}.png"))[0].id for i in range(4)]
    session.commit()
    first = catalog.catalog_version(session, study.id)
    assert catalog.mark_missing(session, study.id, ids[:2]) == 2
    assert catalog.mark_missing(session, study.id, ids[:1]) == 0  # already missing
    session.commit()
    gone = catalog.catalog_version(session, study.id)
    assert gone != first
    assert [im.image_id for im in catalog.study_images(session, study.id)] == ids[2:]
    assert [c.image_id for c in catalog.study_contestants(session, study.id, missing=True)] == ids[:2]
    assert catalog.mark_present(session, study.id, ids[:1]) == 1
    catalog.mark_missing(session, study.id, ids[2:3])  # one back, another gone: still a new version
    session.commit()
    assert catalog.catalog_version(session, study.id) not in (first, gone)
    assert session.scalar(select(func.count(Image.id))) == 4
    catalog.add_contestant(session, study, prompt, _file("1.png"))  # seen again by a scan
    session.commit()
    assert [im.image_id for im in catalog.study_images(session, study.id)] == [ids[0], ids[1], ids[3]]


def test_a_name_too_long_for_the_database_index_is_refused_before_it(session: Session) -> None:
    study = studies.create_study(session, "f", kind="folder")
    prompt = catalog.get_or_create_prompt(session, "p")
    catalog.add_contestant(session, study, prompt, _file("é" * 996 + ".png"))  # 1000 characters, 1996 bytes
    with pytest.raises(InputError, match="at most 2000 bytes"):
        catalog.add_contestant(session, study, prompt, _file("€" * 700))  # 700 characters, 2100 bytes
    session.commit()
