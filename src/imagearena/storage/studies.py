"""Repository functions for studies: the one place a study is looked up, created, counted and reset.

Plain functions that take a Session and never commit: the arena use case owns the transaction. A study
comes back as a :class:`StudyRow` (plain values, read with Core: these lookups sit on the arena's hot
path), and an unknown name is always the same UnknownNameError listing the studies that exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, InputError, UnknownNameError
from imagearena.storage.models import Image, Study, Vote, utcnow
from imagearena.storage.rows import as_utc
from imagearena.types import StudyKind

STUDY_KINDS = tuple(k.value for k in StudyKind)
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True, slots=True)
class StudyRow:
    id: int
    name: str
    kind: str
    title: str
    description: str
    epoch: int
    created_at: datetime


_STUDY_COLUMNS = (
    Study.id,
    Study.name,
    Study.kind,
    Study.title,
    Study.description,
    Study.epoch,
    Study.created_at,
)


def _study(row: Row[int, str, str, str, str, int, datetime]) -> StudyRow:
    study_id, name, kind, title, description, epoch, created = row
    return StudyRow(study_id, name, kind, title, description, epoch, as_utc(created))


def check_study_name(name: str) -> str:
    """Study names appear in URLs and file names: letters, digits, '-', '_', '.' only."""
    if not _STUDY_NAME.fullmatch(name or ""):
        raise InputError(
            f"invalid study name {name!r}: use 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


def check_study_kind(kind: str) -> str:
    if kind not in STUDY_KINDS:
        raise InputError(f"unknown study kind {kind!r}: use one of {', '.join(STUDY_KINDS)}")
    return kind


def find_study(session: Session, name: str) -> StudyRow | None:
    row = session.execute(select(*_STUDY_COLUMNS).where(Study.name == name)).first()
    return None if row is None else _study(row)


def get_study(session: Session, name: str) -> StudyRow:
    """The study called ``name``; UnknownNameError (404) lists the ones that exist."""
    study = find_study(session, name)
    if study is None:
        known = ", ".join(study_names(session)) or "none yet"
        raise UnknownNameError(f"unknown study {name!r}; existing studies: {known}")
    return study


def list_studies(session: Session) -> list[StudyRow]:
    return [_study(r) for r in session.execute(select(*_STUDY_COLUMNS).order_by(Study.name))]


def study_names(session: Session) -> list[str]:
    return list(session.scalars(select(Study.name).order_by(Study.name)))


def study_name(session: Session, study_id: int) -> str:
    return session.scalar(select(Study.name).where(Study.id == study_id)) or ""


def create_study(
    session: Session, name: str, *, kind: str = StudyKind.LIVE, title: str = "", description: str = ""
) -> StudyRow:
    """A new study; ConflictError when the name is taken (also by a concurrent creator)."""
    check_study_name(name)
    check_study_kind(kind)
    if find_study(session, name) is not None or not _insert(session, name, kind, title, description):
        raise ConflictError(f"study {name!r} already exists: pick another name")
    return get_study(session, name)


def get_or_create_study(
    session: Session, name: str, *, kind: str = StudyKind.LIVE, title: str = "", description: str = ""
) -> StudyRow:
    """The study called ``name``, created with these values when missing."""
    check_study_name(name)
    check_study_kind(kind)
    if find_study(session, name) is None:
        _insert(session, name, kind, title, description)
    return get_study(session, name)


def _insert(session: Session, name: str, kind: str, title: str, description: str) -> bool:
    """Insert a study in a savepoint; False when a concurrent creator took the name first."""
    values = {
        "name": name,
        "kind": kind,
        "title": title or name,
        "description": description,
        "epoch": 0,
        "created_at": utcnow(),
    }
    try:
        with session.begin_nested():
            session.execute(insert(Study).values(**values))
    except IntegrityError:
        if find_study(session, name) is None:
            raise
        return False
    return True


def bump_epoch(session: Session, study_id: int) -> int:
    """Archive the study's votes by starting a new epoch; returns the new epoch. Deletes nothing."""
    session.execute(update(Study).where(Study.id == study_id).values(epoch=Study.epoch + 1))
    return int(session.scalar(select(Study.epoch).where(Study.id == study_id)) or 0)


def study_counts(session: Session, study_id: int, epoch: int) -> tuple[int, int, int, int, int]:
    """(models, prompts, images, votes in the current epoch, archived votes) of a study."""
    models, prompts, images = session.execute(
        select(
            func.count(func.distinct(Image.model_id)),
            func.count(func.distinct(Image.prompt_id)),
            func.count(Image.id),
        ).where(Image.study_id == study_id)
    ).one()
    current = session.scalar(
        select(func.count(Vote.id)).where(Vote.study_id == study_id, Vote.epoch == epoch)
    )
    total = session.scalar(select(func.count(Vote.id)).where(Vote.study_id == study_id))
    return int(models), int(prompts), int(images), int(current or 0), int((total or 0) - (current or 0))
