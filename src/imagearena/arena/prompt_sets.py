"""Prompt sets in the database: import one from a file or a dataset, list them, and read one back as
the same PromptSet a file gives (so search and sampling take either, and share cached embeddings:
the cache is keyed by the prompt texts, not by where they came from)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagearena.errors import ConflictError, InputError
from imagearena.prompts.loaders import Prompt, PromptSet
from imagearena.text import check_text

if TYPE_CHECKING:
    from imagearena.arena.runtime import Arena
    from imagearena.settings import Settings
    from imagearena.storage.prompt_sets import PromptSetRow

NAME_MAX_LENGTH = 100  # the width of prompt_set.name
STORED_PREFIX = "db:"  # PromptSet.source of a set read from the database


def import_prompt_set(
    settings: Settings, prompt_set: PromptSet, name: str, *, replace: bool = False
) -> PromptSetRow:
    """Store ``prompt_set`` as ``name`` in one transaction (an empty database gets the schema first)."""
    from imagearena.arena.database import database_session
    from imagearena.storage.prompt_sets import add_prompt_set

    check_text(name, "the prompt set name", max_length=NAME_MAX_LENGTH)
    if not name.strip():
        raise InputError("the prompt set name is empty: pass --name NAME")
    items = [(p.text, p.metadata) for p in prompt_set.prompts]
    with database_session(settings.database_url) as session, session.begin():
        return add_prompt_set(
            session, name, prompt_set.source, prompt_set.fingerprint, items, replace=replace
        )


def list_prompt_sets(settings: Settings) -> list[PromptSetRow]:
    from imagearena.arena.database import database_session
    from imagearena.storage.prompt_sets import list_prompt_sets as rows

    with database_session(settings.database_url) as session:
        return rows(session)


def stored_prompt_set(settings: Settings, name: str) -> PromptSet:
    """The stored set ``name`` as a PromptSet (source ``db:NAME``); UnknownNameError when none."""
    from imagearena.arena.database import database_session
    from imagearena.storage.prompt_sets import get_prompt_set

    with database_session(settings.database_url) as session:
        row, items = get_prompt_set(session, name)
    prompts = tuple(Prompt(text, meta) for text, meta in items)
    return PromptSet(row.name, f"{STORED_PREFIX}{row.name}", prompts, row.fingerprint)


def attach_prompt_set(settings: Settings, study: str, prompt_set: PromptSet | str) -> PromptSetRow:
    """Attach a stored set (its name) to ``study``; a PromptSet read from a file is imported first
    under its own name (replacing a stored set of that name), a ``db:NAME`` set is attached as is."""
    from imagearena.arena.database import database_session
    from imagearena.storage.prompt_sets import attach_prompt_set as attach
    from imagearena.storage.studies import get_study

    if isinstance(prompt_set, str):
        name = prompt_set
    elif prompt_set.source.startswith(STORED_PREFIX):
        name = prompt_set.source[len(STORED_PREFIX) :]
    else:
        stored = {r.name: r for r in list_prompt_sets(settings)}.get(prompt_set.name)
        if stored is None:
            name = import_prompt_set(settings, prompt_set, prompt_set.name).name
        elif stored.fingerprint == prompt_set.fingerprint:
            name = stored.name  # the same prompts, imported before
        else:
            raise ConflictError(
                f"a different prompt set named {prompt_set.name!r} is stored: import the file under "
                "another name (imagearena prompts import FILE --name NAME) and attach that name"
            )
    with database_session(settings.database_url) as session, session.begin():
        return attach(session, get_study(session, study).id, name)


def detach_prompt_set(settings: Settings, study: str) -> str:
    """Detach the set attached to ``study``; the detached set's name. A live study then draws its
    prompts as it did before the attachment (its live settings' prompts, else its own prompts)."""
    from imagearena.arena.database import database_session
    from imagearena.storage.prompt_sets import detach_prompt_set as detach
    from imagearena.storage.studies import get_study

    with database_session(settings.database_url) as session, session.begin():
        name = detach(session, get_study(session, study).id)
    if name is None:
        raise ConflictError(
            f"the study {study!r} has no prompt set attached: nothing to detach "
            "(imagearena prompts attach SET --study NAME attaches one)"
        )
    return name


def attached_set(arena: Arena, study: str) -> PromptSetRow | None:
    """The stored set attached to ``study`` (its name and prompt count), or None."""
    from imagearena.storage.prompt_sets import attached_prompt_set_row
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        return attached_prompt_set_row(session, get_study(session, study).id)


def studies_using(settings: Settings, name: str) -> list[str]:
    """The studies the stored set ``name`` is attached to."""
    from imagearena.arena.database import database_session
    from imagearena.storage.studies import studies_using as rows

    with database_session(settings.database_url) as session:
        return rows(session, name)


def studies_by_set(settings: Settings, names: list[str]) -> dict[str, list[str]]:
    """The studies each stored set of ``names`` is attached to, in one session."""
    from imagearena.arena.database import database_session
    from imagearena.storage.studies import studies_using as rows

    with database_session(settings.database_url) as session:
        return {name: rows(session, name) for name in names}
