"""Repository functions for the catalog: studies, models, prompts, images and scores.

Plain functions that take a Session and never commit: the caller owns the transaction. The
get-or-create helpers survive a concurrent creator (a savepoint catches the unique-constraint race).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, InputError, UnknownNameError
from imagearena.storage.models import Image, Model, Prompt, Score, Study
from imagearena.types import StudyKind

STUDY_KINDS = tuple(k.value for k in StudyKind)
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_MODEL_NAME = re.compile(r"[^\x00-\x1f/\\]{1,200}")

T = TypeVar("T")


class StoredImage(Protocol):
    """What the media store reports about an image it holds (``imagearena.media.ImageInfo``)."""

    sha256: str
    format: str
    width: int
    height: int
    size_bytes: int


def _get_or_create(session: Session, find: Callable[[], T | None], build: Callable[[], T]) -> tuple[T, bool]:
    row = find()
    if row is not None:
        return row, False
    try:
        with session.begin_nested():
            row = build()
            session.add(row)
    except IntegrityError:
        row = find()
        if row is None:
            raise
        return row, False
    return row, True


# --- studies ------------------------------------------------------------------------------------------


def check_study_name(name: str) -> str:
    """Study names appear in URLs and file names: letters, digits, '-', '_', '.' only."""
    if not _STUDY_NAME.fullmatch(name or ""):
        raise InputError(
            f"invalid study name {name!r}: use 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


def find_study(session: Session, name: str) -> Study | None:
    return session.scalar(select(Study).where(Study.name == name))


def get_study(session: Session, name: str) -> Study:
    study = find_study(session, name)
    if study is None:
        known = ", ".join(s.name for s in list_studies(session)) or "none yet"
        raise UnknownNameError(f"unknown study {name!r}; existing studies: {known}")
    return study


def list_studies(session: Session) -> list[Study]:
    return list(session.scalars(select(Study).order_by(Study.name)))


def create_study(
    session: Session, name: str, *, kind: str = StudyKind.LIVE, title: str = "", description: str = ""
) -> Study:
    check_study_name(name)
    if kind not in STUDY_KINDS:
        raise InputError(f"unknown study kind {kind!r}: use one of {', '.join(STUDY_KINDS)}")
    if find_study(session, name) is not None:
        raise ConflictError(f"study {name!r} already exists: pick another name")
    study, created = _get_or_create(
        session,
        lambda: find_study(session, name),
        lambda: Study(name=name, kind=kind, title=title or name, description=description, epoch=0),
    )
    if not created:
        raise ConflictError(f"study {name!r} already exists: pick another name")
    return study


def get_or_create_study(session: Session, name: str, *, kind: str = StudyKind.LIVE, title: str = "") -> Study:
    check_study_name(name)
    if kind not in STUDY_KINDS:
        raise InputError(f"unknown study kind {kind!r}: use one of {', '.join(STUDY_KINDS)}")
    study, _ = _get_or_create(
        session,
        lambda: find_study(session, name),
        lambda: Study(name=name, kind=kind, title=title or name, description="", epoch=0),
    )
    return study


# --- models and prompts -------------------------------------------------------------------------------


def check_model_name(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name or "") or name.strip() != name:
        raise InputError(
            f"invalid model name {name!r}: use 1-200 printable characters, no slashes, "
            "no leading or trailing spaces"
        )
    return name


def find_model(session: Session, name: str) -> Model | None:
    return session.scalar(select(Model).where(Model.name == name))


def get_model(session: Session, name: str) -> Model:
    model = find_model(session, name)
    if model is None:
        raise UnknownNameError(f"unknown model {name!r}")
    return model


def get_or_create_model(session: Session, name: str, meta: dict | None = None) -> Model:
    check_model_name(name)
    model, _ = _get_or_create(
        session, lambda: find_model(session, name), lambda: Model(name=name, meta=dict(meta or {}))
    )
    return model


def prompt_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_prompt(text: str) -> str:
    """Prompts are compared after trimming outer whitespace; inner text is kept exactly."""
    text = (text or "").strip()
    if not text:
        raise InputError("empty prompt: every image needs a prompt text")
    return text


def find_prompt(session: Session, text: str) -> Prompt | None:
    return session.scalar(select(Prompt).where(Prompt.text_sha256 == prompt_digest(normalize_prompt(text))))


def get_or_create_prompt(session: Session, text: str, source: str = "") -> Prompt:
    text = normalize_prompt(text)
    digest = prompt_digest(text)
    prompt, _ = _get_or_create(
        session,
        lambda: session.scalar(select(Prompt).where(Prompt.text_sha256 == digest)),
        lambda: Prompt(text=text, text_sha256=digest, source=source[:200]),
    )
    return prompt


# --- images -------------------------------------------------------------------------------------------


def find_image(session: Session, study: Study, model: Model, prompt: Prompt, sha256: str) -> Image | None:
    return session.scalar(
        select(Image).where(
            Image.study_id == study.id,
            Image.model_id == model.id,
            Image.prompt_id == prompt.id,
            Image.sha256 == sha256,
        )
    )


def add_image(
    session: Session,
    study: Study,
    model: Model,
    prompt: Prompt,
    stored: StoredImage,
    *,
    source: str = "",
    seed: int | None = None,
) -> tuple[Image, bool]:
    """Record an image already in the media store, bound to its model and prompt now.

    Returns ``(image, created)``; the same bytes for the same (study, model, prompt) are one image.
    """
    return _get_or_create(
        session,
        lambda: find_image(session, study, model, prompt, stored.sha256),
        lambda: Image(
            study_id=study.id,
            model_id=model.id,
            prompt_id=prompt.id,
            sha256=stored.sha256,
            format=stored.format,
            width=stored.width,
            height=stored.height,
            size_bytes=stored.size_bytes,
            source=source,
            seed=seed,
        ),
    )


def image_identities(session: Session, study: Study) -> set[tuple[str, str, str]]:
    """``(model name, prompt sha256, image sha256)`` of every image in the study: what an import
    checks a file against before decoding it."""
    rows = session.execute(
        select(Model.name, Prompt.text_sha256, Image.sha256)
        .join(Image, Image.model_id == Model.id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study.id)
    )
    return {(model, prompt, sha) for model, prompt, sha in rows}


def get_image(session: Session, image_id: int) -> Image:
    image = session.get(Image, image_id)
    if image is None:
        raise UnknownNameError(f"unknown image id {image_id}")
    return image


def list_images(session: Session, study: Study, prompt: Prompt | None = None) -> list[Image]:
    query = select(Image).where(Image.study_id == study.id)
    if prompt is not None:
        query = query.where(Image.prompt_id == prompt.id)
    return list(session.scalars(query.order_by(Image.id)))


def study_models(session: Session, study: Study) -> list[Model]:
    """Models that have at least one image in the study, by name."""
    query = (
        select(Model)
        .where(Model.id.in_(select(Image.model_id).where(Image.study_id == study.id)))
        .order_by(Model.name)
    )
    return list(session.scalars(query))


def study_prompts(session: Session, study: Study) -> list[Prompt]:
    """Prompts that have at least one image in the study, in the order they were first added."""
    query = (
        select(Prompt)
        .where(Prompt.id.in_(select(Image.prompt_id).where(Image.study_id == study.id)))
        .order_by(Prompt.id)
    )
    return list(session.scalars(query))


def count_images(session: Session, study: Study) -> int:
    return session.scalar(select(func.count(Image.id)).where(Image.study_id == study.id)) or 0


def image_counts_by_model(session: Session, study: Study) -> dict[str, int]:
    rows = session.execute(
        select(Model.name, func.count(Image.id))
        .join(Image, Image.model_id == Model.id)
        .where(Image.study_id == study.id)
        .group_by(Model.name)
    )
    return {name: count for name, count in rows}


# --- scores -------------------------------------------------------------------------------------------


def set_score(session: Session, image: Image, scorer: str, value: float) -> Score:
    """The score of ``image`` by ``scorer``; a rerun of the same scorer replaces the value."""
    existing = session.scalar(select(Score).where(Score.image_id == image.id, Score.scorer == scorer))
    if existing is not None:
        existing.value = float(value)
        return existing
    score, created = _get_or_create(
        session,
        lambda: session.scalar(select(Score).where(Score.image_id == image.id, Score.scorer == scorer)),
        lambda: Score(image_id=image.id, scorer=scorer, value=float(value)),
    )
    if not created:
        score.value = float(value)
    return score


def scores_for(session: Session, images: Sequence[Image], scorer: str) -> dict[int, float]:
    """``{image_id: value}`` for the images that ``scorer`` has scored."""
    ids = [image.id for image in images]
    if not ids:
        return {}
    rows = session.execute(
        select(Score.image_id, Score.value).where(Score.image_id.in_(ids), Score.scorer == scorer)
    )
    return {image_id: value for image_id, value in rows}
