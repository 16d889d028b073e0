"""Repository functions for studies: the one place a study is looked up, created, counted and reset.

Plain functions that take a Session and never commit: the arena use case owns the transaction. A study
comes back as a :class:`StudyRow` (plain values, read with Core: these lookups sit on the arena's hot
path), and an unknown name is always the same UnknownNameError listing the studies that exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import Row, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, InputError, UnknownNameError
from imagearena.storage.models import Image, PromptSet, RoundResult, Study, Undo, Vote, utcnow
from imagearena.storage.rows import as_utc
from imagearena.storage.votes import HUMAN
from imagearena.types import RoundType, StudyKind

STUDY_KINDS = tuple(k.value for k in StudyKind)
ROUND_TYPES = tuple(r.value for r in RoundType)
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
    round_type: str  # a types.RoundType: what one round of the study shows


_STUDY_COLUMNS = (
    Study.id,
    Study.name,
    Study.kind,
    Study.title,
    Study.description,
    Study.epoch,
    Study.created_at,
    Study.round_type,
)


def _study(row: Row[int, str, str, str, str, int, datetime, str]) -> StudyRow:
    study_id, name, kind, title, description, epoch, created, round_type = row
    return StudyRow(study_id, name, kind, title, description, epoch, as_utc(created), round_type)


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


def check_round_type(round_type: str) -> str:
    if round_type not in ROUND_TYPES:
        raise InputError(f"unknown round type {round_type!r}: use one of {', '.join(ROUND_TYPES)}")
    return round_type


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


class StudyValues(TypedDict, total=False):
    """What a new study is made with besides its name; a missing value is a live pair study's default
    (kind live, title the name, no description, round type pair, no source folder)."""

    kind: str
    title: str
    description: str
    round_type: str
    source: str


def _new_study(name: str, values: StudyValues) -> dict[str, object]:
    """The checked column values of a new study called ``name`` (InputError names a bad one)."""
    check_study_name(name)
    kind = check_study_kind(values.get("kind", StudyKind.LIVE))
    round_type = check_round_type(values.get("round_type", RoundType.PAIR))
    return {
        "name": name,
        "kind": kind,
        "title": values.get("title") or name,
        "description": values.get("description", ""),
        "epoch": 0,
        "round_type": str(round_type),
        "source": values.get("source", ""),
    }


def create_study(session: Session, name: str, **values: Unpack[StudyValues]) -> StudyRow:
    """A new study; ConflictError when the name is taken (also by a concurrent creator)."""
    row = _new_study(name, values)
    if find_study(session, name) is not None or not _insert(session, row):
        raise ConflictError(f"study {name!r} already exists: pick another name")
    return get_study(session, name)


def get_or_create_study(session: Session, name: str, **values: Unpack[StudyValues]) -> StudyRow:
    """The study called ``name``, created with these values when missing."""
    row = _new_study(name, values)
    if find_study(session, name) is None:
        _insert(session, row)
    return get_study(session, name)


def study_source(session: Session, study_id: int) -> str:
    """A folder study's folder ('' for other studies). Kept out of StudyRow: study listings are
    public, server paths are not."""
    return session.scalar(select(Study.source).where(Study.id == study_id)) or ""


def set_round_type(session: Session, study_id: int, round_type: str) -> None:
    """Change what one round of the study shows (earlier decisions keep the type they were cast with)."""
    check_round_type(round_type)
    session.execute(update(Study).where(Study.id == study_id).values(round_type=round_type))


def _insert(session: Session, row: dict[str, object]) -> bool:
    """Insert a study (:func:`_new_study`'s values) in a savepoint; False when a concurrent creator took
    the name first."""
    try:
        with session.begin_nested():
            session.execute(insert(Study).values(**row, created_at=utcnow()))
    except IntegrityError:
        if find_study(session, str(row["name"])) is None:
            raise
        return False
    return True


def bump_epoch(session: Session, study_id: int) -> int:
    """Archive the study's votes by starting a new epoch; returns the new epoch. Deletes nothing."""
    session.execute(update(Study).where(Study.id == study_id).values(epoch=Study.epoch + 1))
    return int(session.scalar(select(Study.epoch).where(Study.id == study_id)) or 0)


def study_counts(session: Session, study_id: int, epoch: int) -> tuple[int, int, int, int, int]:
    """(models, prompts, images, decisions in the current epoch, archived decisions) of a study; a
    decision is a pair vote or a four-image round's result that a person cast, and undone ones and an
    automatic judge's (arena.judging) are not counted."""
    models, prompts, images = session.execute(
        select(
            func.count(func.distinct(Image.model_id)),
            func.count(func.distinct(Image.prompt_id)),
            func.count(Image.id),
        ).where(Image.study_id == study_id)
    ).one()
    current = total = 0
    for table, undone in ((Vote, Undo.vote_id), (RoundResult, Undo.round_id)):
        kept = ~exists().where(undone == table.id) & (table.judge == HUMAN)
        current += (
            session.scalar(
                select(func.count(table.id)).where(table.study_id == study_id, table.epoch == epoch, kept)
            )
            or 0
        )
        total += session.scalar(select(func.count(table.id)).where(table.study_id == study_id, kept)) or 0
    return int(models), int(prompts), int(images), int(current), int(total - current)


def studies_using(session: Session, prompt_set: str) -> list[str]:
    """The names of the studies the prompt set ``prompt_set`` is attached to."""
    query = (
        select(Study.name)
        .join(PromptSet, PromptSet.id == Study.prompt_set_id)
        .where(PromptSet.name == prompt_set)
        .order_by(Study.name)
    )
    return list(session.scalars(query))
