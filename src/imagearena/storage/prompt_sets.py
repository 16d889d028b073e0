"""Repository functions for prompt sets: store one (its texts as shared ``prompt`` rows), list them,
read one back in order. Functions take a Session and never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, UnknownNameError
from imagearena.storage.catalog import normalize_prompt, prompt_digest
from imagearena.storage.models import Prompt, PromptSet, PromptSetItem, Study

LOOKUP_CHUNK = 500  # digests per IN (...) query


@dataclass(frozen=True, slots=True)
class PromptSetRow:
    name: str
    source: str
    fingerprint: str
    prompts: int
    created_at: datetime


def _row(prompt_set: PromptSet, count: int) -> PromptSetRow:
    return PromptSetRow(
        prompt_set.name, prompt_set.source, prompt_set.fingerprint, count, prompt_set.created_at
    )


def prompt_ids(session: Session, texts: Sequence[str], source: str = "") -> list[int]:
    """The ``prompt`` row id of each text (created where missing), in order: one query per
    LOOKUP_CHUNK distinct texts instead of one per text."""
    texts = [normalize_prompt(t) for t in texts]
    digests = [prompt_digest(t) for t in texts]
    known: dict[str, int] = {}
    distinct = list(dict.fromkeys(digests))
    for start in range(0, len(distinct), LOOKUP_CHUNK):
        chunk = distinct[start : start + LOOKUP_CHUNK]
        query = select(Prompt.text_sha256, Prompt.id).where(Prompt.text_sha256.in_(chunk))
        known.update((digest, prompt_id) for digest, prompt_id in session.execute(query))
    new = {
        d: Prompt(text=t, text_sha256=d, source=source[:200])
        for t, d in zip(texts, digests, strict=True)
        if d not in known
    }
    if new:
        session.add_all(new.values())
        session.flush()
        known.update({d: p.id for d, p in new.items()})
    return [known[d] for d in digests]


def add_prompt_set(
    session: Session,
    name: str,
    source: str,
    fingerprint: str,
    items: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    replace: bool = False,
) -> PromptSetRow:
    """Store the (text, metadata) items as the set ``name``; an existing set of that name is a
    ConflictError unless ``replace``, which swaps its prompts for these."""
    existing = session.scalar(select(PromptSet).where(PromptSet.name == name))
    if existing is not None and not replace:
        raise ConflictError(f"a prompt set named {name!r} exists: choose another --name, or pass --replace")
    ids = prompt_ids(session, [text for text, _ in items], source)
    if existing is None:
        existing = PromptSet(name=name, source=source, fingerprint=fingerprint)
        session.add(existing)
        session.flush()
    else:
        session.execute(delete(PromptSetItem).where(PromptSetItem.set_id == existing.id))
        existing.source, existing.fingerprint = source, fingerprint
    session.add_all(
        PromptSetItem(set_id=existing.id, position=i, prompt_id=pid, meta=dict(meta))
        for i, (pid, (_, meta)) in enumerate(zip(ids, items, strict=True))
    )
    session.flush()
    return _row(existing, len(items))


def list_prompt_sets(session: Session) -> list[PromptSetRow]:
    counts = select(PromptSetItem.set_id, func.count().label("n")).group_by(PromptSetItem.set_id).subquery()
    rows = session.execute(
        select(PromptSet, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.set_id == PromptSet.id)
        .order_by(PromptSet.name)
    )
    return [_row(s, n) for s, n in rows]


def get_prompt_set(session: Session, name: str) -> tuple[PromptSetRow, list[tuple[str, dict[str, Any]]]]:
    """The set and its (text, metadata) items in order; UnknownNameError lists the stored names."""
    prompt_set = session.scalar(select(PromptSet).where(PromptSet.name == name))
    if prompt_set is None:
        names = session.scalars(select(PromptSet.name).order_by(PromptSet.name)).all()
        known = (
            f"stored sets: {', '.join(names)}"
            if names
            else "none is stored yet (imagearena prompts import FILE)"
        )
        raise UnknownNameError(f"no prompt file or stored prompt set named {name!r}; {known}")
    items = [
        (text, dict(meta))
        for text, meta in session.execute(
            select(Prompt.text, PromptSetItem.meta)
            .join(Prompt, Prompt.id == PromptSetItem.prompt_id)
            .where(PromptSetItem.set_id == prompt_set.id)
            .order_by(PromptSetItem.position)
        )
    ]
    return _row(prompt_set, len(items)), items


def attach_prompt_set(session: Session, study_id: int, name: str) -> PromptSetRow:
    """Attach the stored set ``name`` to the study (replacing any set attached before)."""
    row, _ = get_prompt_set(session, name)
    set_id = session.scalar(select(PromptSet.id).where(PromptSet.name == name))
    session.execute(update(Study).where(Study.id == study_id).values(prompt_set_id=set_id))
    return row


def detach_prompt_set(session: Session, study_id: int) -> str | None:
    """Clear the study's attached set; the name of the set it had, or None when it had none."""
    name = attached_prompt_set(session, study_id)
    if name is not None:
        session.execute(update(Study).where(Study.id == study_id).values(prompt_set_id=None))
    return name


def attached_prompt_set_row(session: Session, study_id: int) -> PromptSetRow | None:
    """The set attached to the study with its prompt count, or None."""
    prompt_set = session.scalar(
        select(PromptSet).join(Study, Study.prompt_set_id == PromptSet.id).where(Study.id == study_id)
    )
    if prompt_set is None:
        return None
    count = session.scalar(select(func.count()).where(PromptSetItem.set_id == prompt_set.id)) or 0
    return _row(prompt_set, int(count))


def attached_prompt_set(session: Session, study_id: int) -> str | None:
    """The name of the set attached to the study, or None."""
    return session.scalar(
        select(PromptSet.name).join(Study, Study.prompt_set_id == PromptSet.id).where(Study.id == study_id)
    )


def attached_texts(session: Session, study_id: int) -> list[str]:
    """The texts of the set attached to the study, in order; empty when none is attached."""
    query = (
        select(Prompt.text)
        .join(PromptSetItem, PromptSetItem.prompt_id == Prompt.id)
        .join(Study, Study.prompt_set_id == PromptSetItem.set_id)
        .where(Study.id == study_id)
        .order_by(PromptSetItem.position)
    )
    return list(session.scalars(query))
