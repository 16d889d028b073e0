"""Repository functions for folder studies: the study of a folder, and bringing its contestants in line
with what a scan of the folder found, in bulk (a first scan of 10,000 files is a handful of statements,
not 10,000 get-or-creates). Like every repository module: takes a Session, never commits.

A folder study's contestants are its images (``model.study_id`` = the study, named by their path in the
folder), each bound to the study's one shared prompt so that any of them can meet any other; the prompt
found for an image is kept in its model's ``meta["prompt"]``. An image row stands for one version of a
file (``image.sha256`` is :func:`imagearena.storage.catalog.file_fingerprint` of path, size and
modification time): a file changed in place becomes a new image of the same contestant, and the old
version is marked missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from imagearena.storage.catalog import (
    FolderFile,
    check_contestant_name,
    file_fingerprint,
    mark_missing,
    mark_present,
)
from imagearena.storage.models import Image, Model, Study, utcnow
from imagearena.storage.studies import StudyRow, check_study_name, create_study, find_study, get_study
from imagearena.types import RoundType, StudyKind

#: Rows per INSERT statement (SQLite allows 32,766 bound parameters; an image row binds 12).
BATCH = 1000


@dataclass(frozen=True, slots=True)
class SyncCounts:
    """What a sync changed: new contestants, files changed in place, files gone, files back."""

    added: int = 0
    changed: int = 0
    missing: int = 0
    returned: int = 0


def folder_study(
    session: Session, name: str, source: str, round_type: RoundType | None, title: str = ""
) -> tuple[StudyRow, bool]:
    """The folder study called ``name`` for the folder ``source``, created when missing; ``(study,
    created)``. A new study is a ``round_type`` (pairs when None) study; an existing one takes
    ``round_type`` when it is given (the mode of this run), its earlier decisions of another type kept.
    """
    check_study_name(name)
    found = find_study(session, name)
    if found is None:
        kind, rtype = StudyKind.FOLDER.value, (round_type or RoundType.PAIR).value
        return create_study(session, name, kind=kind, title=title, round_type=rtype, source=source), True
    wanted = found.round_type if round_type is None else round_type.value
    if found.round_type != wanted or study_source(session, found.id)[2] != source:
        session.execute(update(Study).where(Study.id == found.id).values(round_type=wanted, source=source))
    return get_study(session, name), False


def study_source(session: Session, study_id: int) -> tuple[str, str, str]:
    """(kind, round type, source folder) of a study."""
    kind, round_type, source = session.execute(
        select(Study.kind, Study.round_type, Study.source).where(Study.id == study_id)
    ).one()
    return str(kind), str(round_type), str(source)


def sync_contestants(
    session: Session,
    study_id: int,
    prompt_id: int,
    files: Sequence[FolderFile],
    prompts: Mapping[str, str | None],
    at: datetime | None = None,
) -> SyncCounts:
    """Make the study's present images exactly ``files``: new paths become contestants, changed files
    new images, files not listed are marked missing, files listed again present. ``prompts`` maps a
    path to the prompt shown under it (kept in the contestant's meta)."""
    models: dict[str, tuple[int, object]] = {
        name: (model_id, meta)
        for model_id, name, meta in session.execute(
            select(Model.id, Model.name, Model.meta).where(Model.study_id == study_id)
        )
    }
    images: dict[str, tuple[int, str, bool]] = {}  # fingerprint -> (image id, path, missing)
    present_by_path: dict[str, list[int]] = {}
    for image_id, path, sha, gone_at in session.execute(
        select(Image.id, Image.source, Image.sha256, Image.missing_since).where(Image.study_id == study_id)
    ):
        images[sha] = (image_id, path, gone_at is not None)
        if gone_at is None:
            present_by_path.setdefault(path, []).append(image_id)

    new_models: list[dict[str, object]] = []
    new_images: list[tuple[FolderFile, str]] = []
    back: list[int] = []
    keep: set[int] = set()
    meta_updates: list[tuple[int, dict[str, object]]] = []
    changed = 0
    for file in files:
        check_contestant_name(file.path)
        fingerprint = file_fingerprint(file.path, file.size, file.mtime_ns)
        prompt = prompts.get(file.path)
        meta: dict[str, object] = {"prompt": prompt} if prompt else {}
        model = models.get(file.path)
        if model is None:
            new_models.append({"name": file.path, "study_id": study_id, "meta": meta, "created_at": utcnow()})
        elif (model[1] or {}) != meta:
            meta_updates.append((model[0], meta))
        known = images.get(fingerprint)
        if known is None:
            new_images.append((file, fingerprint))
            if model is not None:
                changed += 1
        else:
            keep.add(known[0])
            if known[2]:
                back.append(known[0])
    gone = [i for ids in present_by_path.values() for i in ids if i not in keep]

    for start in range(0, len(new_models), BATCH):
        session.execute(insert(Model), new_models[start : start + BATCH])
    for model_id, meta in meta_updates:
        session.execute(update(Model).where(Model.id == model_id).values(meta=meta))
    if new_images:
        ids = {
            name: model_id
            for name, model_id in session.execute(
                select(Model.name, Model.id).where(Model.study_id == study_id)
            )
        }
        rows = [
            {
                "study_id": study_id,
                "model_id": ids[file.path],
                "prompt_id": prompt_id,
                "sha256": fingerprint,
                "format": file.format,
                "width": file.width,
                "height": file.height,
                "size_bytes": file.size,
                "source": file.path,
                "seed": None,
                "created_at": utcnow(),
            }
            for file, fingerprint in new_images
        ]
        for start in range(0, len(rows), BATCH):
            session.execute(insert(Image), rows[start : start + BATCH])
    missing = mark_missing(session, study_id, gone, at or datetime.now(UTC))
    returned = mark_present(session, study_id, back)
    return SyncCounts(added=len(new_models), changed=changed, missing=missing, returned=returned)


def folder_file_of(session: Session, fingerprint: str) -> tuple[str, str] | None:
    """(folder, path inside it) of a folder study's image by its fingerprint, or None."""
    row = session.execute(
        select(Study.source, Image.source)
        .join(Study, Study.id == Image.study_id)
        .where(Image.sha256 == fingerprint, Study.kind == StudyKind.FOLDER.value)
        .limit(1)
    ).first()
    return None if row is None else (str(row[0]), str(row[1]))


def contestant_prompts(session: Session, study_id: int) -> dict[str, str]:
    """Contestant name -> the prompt found for it, for the study's contestants that have one."""
    out: dict[str, str] = {}
    for name, meta in session.execute(select(Model.name, Model.meta).where(Model.study_id == study_id)):
        prompt = (meta or {}).get("prompt")
        if isinstance(prompt, str):
            out[name] = prompt
    return out


def prerank_scores(session: Session, study_id: int, scorer: str | None = None) -> dict[str, float]:
    """Contestant name -> the pre-rank score of its present image: by ``scorer``, or by the scorer that
    scored most of the study's images (the one a pre-rank pass used)."""
    from sqlalchemy import func

    from imagearena.storage.models import Score

    present = (Image.study_id == study_id) & Image.missing_since.is_(None)
    if scorer is None:
        scorer = session.scalar(
            select(Score.scorer)
            .join(Image, Image.id == Score.image_id)
            .where(present)
            .group_by(Score.scorer)
            .order_by(func.count().desc(), Score.scorer)
            .limit(1)
        )
        if scorer is None:
            return {}
    rows = session.execute(
        select(Model.name, Score.value)
        .join(Image, Image.model_id == Model.id)
        .join(Score, Score.image_id == Image.id)
        .where(present, Score.scorer == scorer)
    )
    return {name: float(value) for name, value in rows}


def contestant_counts(session: Session, study_id: int) -> tuple[int, int]:
    """(contestants with a present image, contestants whose every image is missing) of a study."""
    from sqlalchemy import func

    total = session.scalar(select(func.count()).select_from(Model).where(Model.study_id == study_id)) or 0
    here = (
        session.scalar(
            select(func.count(func.distinct(Image.model_id))).where(
                Image.study_id == study_id, Image.missing_since.is_(None)
            )
        )
        or 0
    )
    return int(here), int(total) - int(here)


def study_prompt(session: Session, study_id: int) -> tuple[int, str] | None:
    """(id, text) of the prompt the study's images are bound to (the first image's), or None."""
    from imagearena.storage.models import Prompt

    row = session.execute(
        select(Prompt.id, Prompt.text)
        .join(Image, Image.prompt_id == Prompt.id)
        .where(Image.study_id == study_id)
        .order_by(Image.id)
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def fingerprint_prompts(session: Session, study_id: int) -> dict[str, str]:
    """Image fingerprint (``image.sha256``) -> the prompt found for its file, for a folder study's images
    that have one; empty for any other study (its models are not owned by it)."""
    out: dict[str, str] = {}
    rows = session.execute(
        select(Image.sha256, Model.meta)
        .join(Model, Model.id == Image.model_id)
        .where(Model.study_id == study_id, Image.study_id == study_id)
    )
    for sha, meta in rows:
        prompt = (meta or {}).get("prompt")
        if isinstance(prompt, str):
            out[sha] = prompt
    return out
