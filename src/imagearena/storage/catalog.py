"""Repository functions for the catalog: models, prompts and images (what a study's matches are drawn from).

Plain functions that take a Session and never commit: the arena use case owns the transaction. The
get-or-create helpers survive a concurrent creator (a savepoint catches the unique-constraint race).
The reads a served match needs (:func:`study_images`, :func:`catalog_version`) are single Core
statements, never ORM object loading: they sit on the arena's hot path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from imagearena.errors import InputError, UnknownNameError
from imagearena.storage.models import MODEL_NAME_LENGTH, Image, Model, Prompt, Study
from imagearena.storage.rows import as_utc, get_or_create
from imagearena.storage.studies import StudyRow

_MODEL_NAME = re.compile(r"[^\x00-\x1f/\\]{1,200}")
_CONTESTANT_NAME = re.compile(rf"[^\x00-\x1f\x7f\\]{{1,{MODEL_NAME_LENGTH}}}")


class StoredImage(Protocol):
    """What the media store reports about an image it holds (``imagearena.media.ImageInfo``, frozen)."""

    @property
    def sha256(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def size_bytes(self) -> int: ...


# --- models and prompts -------------------------------------------------------------------------------


def check_model_name(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name or "") or name.strip() != name:
        raise InputError(
            f"invalid model name {name!r}: use 1-200 printable characters, no slashes, "
            "no leading or trailing spaces"
        )
    return name


def find_model(session: Session, name: str) -> Model | None:
    """The global model called ``name`` (contestants owned by a study are not global)."""
    return session.scalar(select(Model).where(Model.name == name, Model.study_id.is_(None)))


def get_or_create_model(session: Session, name: str, meta: dict[str, Any] | None = None) -> Model:
    check_model_name(name)
    model, _ = get_or_create(
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
    prompt, _ = get_or_create(
        session,
        lambda: session.scalar(select(Prompt).where(Prompt.text_sha256 == digest)),
        lambda: Prompt(text=text, text_sha256=digest, source=source[:200]),
    )
    return prompt


# --- images -------------------------------------------------------------------------------------------


def find_image(session: Session, study: StudyRow, model: Model, prompt: Prompt, sha256: str) -> Image | None:
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
    study: StudyRow,
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
    return get_or_create(
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


def image_identities(session: Session, study: StudyRow) -> set[tuple[str, str, str]]:
    """``(model name, prompt sha256, image sha256)`` of every image in the study: what an import
    checks a file against before decoding it."""
    rows = session.execute(
        select(Model.name, Prompt.text_sha256, Image.sha256)
        .join(Image, Image.model_id == Model.id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study.id)
    )
    return {(model, prompt, sha) for model, prompt, sha in rows}


def seeded_images(session: Session, study: StudyRow) -> set[tuple[str, str, int]]:
    """``(global model name, prompt sha256, seed)`` of every image of the study that has a seed: what
    a generation run checks its units against, so a rerun makes only the images still missing."""
    rows = session.execute(
        select(Model.name, Prompt.text_sha256, Image.seed)
        .join(Image, Image.model_id == Model.id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study.id, Image.seed.is_not(None), Model.study_id.is_(None))
    )
    return {(model, prompt, seed) for model, prompt, seed in rows if seed is not None}


def get_image(session: Session, image_id: int) -> Image:
    image = session.get(Image, image_id)
    if image is None:
        raise UnknownNameError(f"unknown image id {image_id}")
    return image


def list_images(session: Session, study: StudyRow, prompt: Prompt | None = None) -> list[Image]:
    query = select(Image).where(Image.study_id == study.id)
    if prompt is not None:
        query = query.where(Image.prompt_id == prompt.id)
    return list(session.scalars(query.order_by(Image.id)))


def study_models(session: Session, study: StudyRow) -> list[Model]:
    """Models that have at least one image in the study, by name."""
    query = (
        select(Model)
        .where(Model.id.in_(select(Image.model_id).where(Image.study_id == study.id)))
        .order_by(Model.name)
    )
    return list(session.scalars(query))


def study_prompts(session: Session, study: StudyRow) -> list[Prompt]:
    """Prompts that have at least one image in the study, in the order they were first added."""
    query = (
        select(Prompt)
        .where(Prompt.id.in_(select(Image.prompt_id).where(Image.study_id == study.id)))
        .order_by(Prompt.id)
    )
    return list(session.scalars(query))


def count_images(session: Session, study: StudyRow) -> int:
    return session.scalar(select(func.count(Image.id)).where(Image.study_id == study.id)) or 0


def image_counts_by_model(session: Session, study: StudyRow) -> dict[str, int]:
    rows = session.execute(
        select(Model.name, func.count(Image.id))
        .join(Image, Image.model_id == Model.id)
        .where(Image.study_id == study.id)
        .group_by(Model.name)
    )
    return {name: count for name, count in rows}


@dataclass(frozen=True, slots=True)
class CatalogImage:
    image_id: int
    model_id: int
    model: str
    prompt_id: int
    prompt: str
    sha256: str
    format: str


def study_images(session: Session, study_id: int) -> list[CatalogImage]:
    """Every image of a study with its model and prompt, as bound at import or generation time."""
    stmt = (
        select(Image.id, Image.model_id, Model.name, Image.prompt_id, Prompt.text, Image.sha256, Image.format)
        .join(Model, Model.id == Image.model_id)
        .join(Prompt, Prompt.id == Image.prompt_id)
        .where(Image.study_id == study_id, Image.missing_since.is_(None))
        .order_by(Image.id)
    )
    return [CatalogImage(*row) for row in session.execute(stmt)]


def catalog_version(session: Session, study_id: int) -> tuple[int, int, int, int, float]:
    """(epoch, image count, highest image id, missing images, newest missing mark): changes whenever a
    cached catalog must be reloaded. A file that comes back lowers the missing count; one that goes
    raises the newest mark, so any mix of the two changes the version."""
    epoch = session.scalar(select(Study.epoch).where(Study.id == study_id))
    count, top, missing, newest = session.execute(
        select(
            func.count(Image.id),
            func.coalesce(func.max(Image.id), 0),
            func.count(Image.missing_since),
            func.max(Image.missing_since),
        ).where(Image.study_id == study_id)
    ).one()
    mark = 0.0 if newest is None else as_utc(newest).timestamp()
    return int(epoch or 0), int(count), int(top), int(missing), mark


def _by_id(session: Session, key: Any, value: Any, ids: Sequence[int | None]) -> dict[int, Any]:
    """``{id: value}`` for the given ids (None skipped), read 500 ids at a time so that a long list
    stays under every database's bound-parameter limit."""
    wanted = sorted({i for i in ids if i is not None})
    out: dict[int, Any] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(select(key, value).where(key.in_(wanted[start : start + 500])))
        out.update({i: v for i, v in rows})
    return out


def model_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Model id -> name for the given ids."""
    return _by_id(session, Model.id, Model.name, ids)


def prompt_texts(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    """Prompt id -> text for the given ids (None skipped)."""
    return _by_id(session, Prompt.id, Prompt.text, ids)


def model_ids(session: Session, names: Sequence[str], study_id: int | None = None) -> dict[str, int]:
    """Ids of the models called ``names`` as a study's leaderboard names them: the study's own
    contestants first, then global models."""
    if not names:
        return {}
    owner = (
        Model.study_id.is_(None)
        if study_id is None
        else Model.study_id.is_(None) | (Model.study_id == study_id)
    )
    rows = session.execute(
        select(Model.name, Model.id, Model.study_id)
        .where(Model.name.in_(list(names)), owner)
        .order_by(Model.study_id.is_(None))
    )
    found: dict[str, int] = {}
    for name, model_id, _ in rows:
        found.setdefault(name, model_id)
    return found


# --- contestants owned by one study (a folder study's images) ----------------------------------------


#: PostgreSQL's unique index holds at most about 2700 bytes of a key: a name's UTF-8 stays below this.
CONTESTANT_NAME_BYTES = 2000


def check_contestant_name(name: str) -> str:
    """A folder study's contestant is named by its file's path inside the folder ('/' separated)."""
    if (
        not _CONTESTANT_NAME.fullmatch(name or "")
        or name.strip() != name
        or len(name.encode("utf-8", "surrogatepass")) > CONTESTANT_NAME_BYTES
    ):
        raise InputError(
            f"invalid contestant name {name[:100]!r}: use 1-{MODEL_NAME_LENGTH} printable characters "
            f"(at most {CONTESTANT_NAME_BYTES} bytes in UTF-8), no backslashes, no leading or trailing "
            "spaces: rename the file or move it nearer the folder's top"
        )
    return name


def file_fingerprint(path: str, size: int, mtime_ns: int) -> str:
    """What stands in for a folder file's content address (its bytes stay in the folder and are not
    read to list it): a digest of its relative path, size and modification time. A file rewritten in
    place gets a new fingerprint, so a new image."""
    return hashlib.sha256(f"{path}\0{size}\0{mtime_ns}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class FolderFile:
    """One image file of a folder study as the folder scan saw it."""

    path: str  # relative to the study's folder, '/' separated: also the contestant's name
    size: int
    mtime_ns: int
    format: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Contestant:
    """A study-owned contestant and its image (one per file version)."""

    model_id: int
    name: str
    image_id: int
    path: str
    sha256: str
    format: str
    missing_since: datetime | None


def add_contestant(session: Session, study: StudyRow, prompt: Prompt, file: FolderFile) -> tuple[Image, bool]:
    """One contestant (owned by ``study``) and its image for a file of the study's folder; ``(image,
    created)``. The same file unchanged is the same image; a file seen again after it went missing is
    present again."""
    check_contestant_name(file.path)
    model, _ = get_or_create(
        session,
        lambda: session.scalar(select(Model).where(Model.study_id == study.id, Model.name == file.path)),
        lambda: Model(name=file.path, study_id=study.id, meta={}),
    )
    fingerprint = file_fingerprint(file.path, file.size, file.mtime_ns)
    image, created = get_or_create(
        session,
        lambda: find_image(session, study, model, prompt, fingerprint),
        lambda: Image(
            study_id=study.id,
            model_id=model.id,
            prompt_id=prompt.id,
            sha256=fingerprint,
            format=file.format,
            width=file.width,
            height=file.height,
            size_bytes=file.size,
            source=file.path,
        ),
    )
    if image.missing_since is not None:
        image.missing_since = None
        session.flush()
    return image, created


def study_contestants(session: Session, study_id: int, *, missing: bool | None = None) -> list[Contestant]:
    """The study's own contestants with their images, by name then image id; ``missing`` True or False
    keeps only the images found gone or present."""
    stmt = (
        select(Model.id, Model.name, Image.id, Image.source, Image.sha256, Image.format, Image.missing_since)
        .join(Image, Image.model_id == Model.id)
        .where(Model.study_id == study_id, Image.study_id == study_id)
        .order_by(Model.name, Image.id)
    )
    if missing is not None:
        stmt = stmt.where(Image.missing_since.is_not(None) if missing else Image.missing_since.is_(None))
    return [
        Contestant(m, name, i, path, sha, fmt, None if gone is None else as_utc(gone))
        for m, name, i, path, sha, fmt, gone in session.execute(stmt)
    ]


def mark_missing(
    session: Session, study_id: int, image_ids: Sequence[int], at: datetime | None = None
) -> int:
    """Mark images of the study as gone from its folder (they leave the match pool; their votes stay);
    returns how many were present until now."""
    if not image_ids:
        return 0
    result = session.execute(
        update(Image)
        .where(Image.study_id == study_id, Image.id.in_(list(image_ids)), Image.missing_since.is_(None))
        .values(missing_since=at or datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_present(session: Session, study_id: int, image_ids: Sequence[int]) -> int:
    """Images found again: back in the match pool. Returns how many were missing until now."""
    if not image_ids:
        return 0
    result = session.execute(
        update(Image)
        .where(Image.study_id == study_id, Image.id.in_(list(image_ids)), Image.missing_since.is_not(None))
        .values(missing_since=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def image_files(session: Session, image_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """(sha256, format) of images by id: what serving them again needs."""
    rows = session.execute(select(Image.id, Image.sha256, Image.format).where(Image.id.in_(list(image_ids))))
    return {image_id: (sha, fmt) for image_id, sha, fmt in rows}


def prompt_text(session: Session, prompt_id: int) -> str:
    return session.scalar(select(Prompt.text).where(Prompt.id == prompt_id)) or ""
