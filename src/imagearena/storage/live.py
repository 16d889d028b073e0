"""Repository functions for live studies: their settings, the images generated today per generator
(what a daily budget is counted from), and recording one live round's images.

Plain functions that take a Session and never commit: the arena use case (arena.live) owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from imagearena.storage.catalog import (
    get_or_create_model,
    get_or_create_prompt,
    normalize_prompt,
    prompt_digest,
)
from imagearena.storage.models import Image, LiveSettings, Model, Prompt, utcnow
from imagearena.storage.studies import StudyRow
from imagearena.types import StudyKind

#: What ``image.source`` of an image made for a live round starts with (a JSON object follows).
LIVE_SOURCE_PREFIX = "live:"


@dataclass(frozen=True, slots=True)
class LiveSettingsRow:
    """A study's live settings as plain values (see models.LiveSettings)."""

    study_id: int
    generators: tuple[str, ...] = ()
    voter_limit_per_hour: int = 0
    daily_budget: Mapping[str, int] = field(default_factory=dict)
    prompts: tuple[str, ...] = ()


def get_live_settings(session: Session, study_id: int) -> LiveSettingsRow | None:
    row = session.get(LiveSettings, study_id)
    if row is None:
        return None
    return LiveSettingsRow(
        study_id,
        tuple(str(g) for g in row.generators or ()),
        int(row.voter_limit_per_hour or 0),
        {str(k): int(v) for k, v in (row.daily_budget or {}).items()},
        tuple(str(p) for p in row.prompts or ()),
    )


def save_live_settings(session: Session, settings: LiveSettingsRow) -> None:
    """Insert or replace the study's live settings."""
    row = session.get(LiveSettings, settings.study_id)
    if row is None:
        row = LiveSettings(study_id=settings.study_id)
        session.add(row)
    row.generators = list(settings.generators)
    row.voter_limit_per_hour = settings.voter_limit_per_hour
    row.daily_budget = dict(settings.daily_budget)
    row.prompts = list(settings.prompts)
    row.updated_at = utcnow()
    session.flush()


def generated_since(session: Session, study_id: int, since: datetime) -> dict[str, int]:
    """Images made for the study's live rounds since ``since``, by generator (model) name."""
    rows = session.execute(
        select(Model.name, func.count(Image.id))
        .join(Model, Model.id == Image.model_id)
        .where(
            Image.study_id == study_id,
            Image.created_at >= since,
            Image.source.startswith(LIVE_SOURCE_PREFIX),
        )
        .group_by(Model.name)
    )
    return {str(name): int(count) for name, count in rows}


@dataclass(frozen=True, slots=True)
class LiveImage:
    """One image of a live round, already in the media store: its generator (the model's name), what
    the store reports about it, the seed, the source record and the model's meta."""

    generator: str
    stored: Any  # a catalog.StoredImage (media.ImageInfo)
    seed: int | None
    source: str
    meta: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedImage:
    image_id: int
    model_id: int


def generator_models(session: Session, generators: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The ids of the global models named for the generators (``name -> meta``), made when missing."""
    found = dict(
        session.execute(
            select(Model.name, Model.id).where(Model.name.in_(list(generators)), Model.study_id.is_(None))
        ).all()
    )
    for name, meta in generators.items():
        if name not in found:
            found[name] = get_or_create_model(session, name, dict(meta)).id
    return {str(k): int(v) for k, v in found.items()}


def live_prompt(session: Session, text: str) -> int:
    """The id of the prompt row of ``text``, made when missing with one INSERT ... ON CONFLICT DO
    NOTHING (a savepoint, as catalog.get_or_create_prompt takes, costs three more statements)."""
    text = normalize_prompt(text)
    digest = prompt_digest(text)
    found = session.scalar(select(Prompt.id).where(Prompt.text_sha256 == digest))
    if found is not None:
        return int(found)
    table = cast(Table, Prompt.__table__)
    row = {"text": text, "text_sha256": digest, "source": StudyKind.LIVE.value, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        upsert: Any = (
            postgresql.insert(table).values(row).on_conflict_do_nothing(index_elements=["text_sha256"])
        )
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        upsert = sqlite.insert(table).values(row).on_conflict_do_nothing(index_elements=["text_sha256"])
    else:
        return get_or_create_prompt(session, text, source=StudyKind.LIVE.value).id
    inserted = session.connection().execute(upsert.returning(table.c.id)).scalar()
    if inserted is None:  # a concurrent writer made it first
        inserted = session.scalar(select(Prompt.id).where(Prompt.text_sha256 == digest))
    assert inserted is not None
    return int(inserted)


def record_live_images(
    session: Session, study: StudyRow, prompt: str, images: Sequence[LiveImage], model_ids: Mapping[str, int]
) -> tuple[int, list[RecordedImage]]:
    """The prompt's id and each image's (image id, model id), recorded in the caller's transaction with
    few statements (they run while the round's voter waits): one read of the images already stored and
    one insert of the others; the same bytes of the same model and prompt are the image already stored."""
    prompt_id = live_prompt(session, prompt)
    keys = [(model_ids[item.generator], item.stored.sha256) for item in images]
    existing = {
        (int(model_id), str(sha)): int(image_id)
        for image_id, model_id, sha in session.execute(
            select(Image.id, Image.model_id, Image.sha256).where(
                Image.study_id == study.id,
                Image.prompt_id == prompt_id,
                Image.sha256.in_([sha for _, sha in keys]),
            )
        ).all()
    }
    missing = [(key, item) for key, item in zip(keys, images, strict=True) if key not in existing]
    if missing:
        now = utcnow()
        table = cast(Table, Image.__table__)
        rows = [
            {
                "study_id": study.id,
                "model_id": model_id,
                "prompt_id": prompt_id,
                "sha256": item.stored.sha256,
                "format": item.stored.format,
                "width": item.stored.width,
                "height": item.stored.height,
                "size_bytes": item.stored.size_bytes,
                "source": item.source,
                "seed": item.seed,
                "missing_since": None,
                "created_at": now,
            }
            for (model_id, _), item in missing
        ]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = session.connection().execute(statement, rows).scalars().all()
        existing.update(zip((key for key, _ in missing), (int(i) for i in ids), strict=True))
    return prompt_id, [RecordedImage(existing[key], key[0]) for key in keys]


def referenced(session: Session, sha256s: Sequence[str]) -> set[str]:
    """The digests among ``sha256s`` that some image row names."""
    if not sha256s:
        return set()
    return set(session.scalars(select(Image.sha256).where(Image.sha256.in_(list(sha256s))).distinct()))
