"""Prompt sets in the database (migration 0004): stored in order with their metadata, texts shared
with the catalog's prompt rows, listed with counts, replaced on request, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imagearena.errors import ConflictError, UnknownNameError
from imagearena.storage import catalog
from imagearena.storage.models import Prompt, PromptSetItem
from imagearena.storage.prompt_sets import add_prompt_set, get_prompt_set, list_prompt_sets, prompt_ids

ITEMS = [
    ("a koala", {"Category": "Animals", "Challenge": "Basic"}),
    ("a tuba", {"Category": "Artifacts", "ranking": [1, 2, 3]}),
    ("a koala", {"Category": "Animals again"}),  # a repeated text keeps its own row and metadata
]


def test_store_and_read_back_in_order(session: Session) -> None:
    existing = catalog.get_or_create_prompt(session, "a tuba")  # already used by an image, say
    row = add_prompt_set(session, "parti", "/data/parti.tsv", "f" * 64, ITEMS)
    session.commit()
    assert (row.name, row.source, row.fingerprint, row.prompts) == ("parti", "/data/parti.tsv", "f" * 64, 3)
    again, items = get_prompt_set(session, "parti")
    assert items == [(t, dict(m)) for t, m in ITEMS]
    assert again.prompts == 3 and again.created_at is not None
    # One prompt row per distinct text, the catalog's own included.
    assert session.scalar(select(func.count(Prompt.id))) == 2
    assert prompt_ids(session, ["a tuba", "  a koala "]) == [
        existing.id,
        catalog.find_prompt(session, "a koala").id,
    ]


def test_list_counts_and_names(session: Session) -> None:
    assert list_prompt_sets(session) == []
    add_prompt_set(session, "b-set", "b.txt", "b" * 64, ITEMS[:1])
    add_prompt_set(session, "a-set", "a.txt", "a" * 64, ITEMS)
    session.commit()
    assert [(r.name, r.prompts, r.source) for r in list_prompt_sets(session)] == [
        ("a-set", 3, "a.txt"),
        ("b-set", 1, "b.txt"),
    ]


def test_existing_name_conflicts_unless_replaced(session: Session) -> None:
    add_prompt_set(session, "s", "one.txt", "1" * 64, ITEMS)
    session.commit()
    with pytest.raises(ConflictError, match="--replace"):
        add_prompt_set(session, "s", "two.txt", "2" * 64, ITEMS[:1])
    session.rollback()
    row = add_prompt_set(session, "s", "two.txt", "2" * 64, [("a lighthouse", {})], replace=True)
    session.commit()
    assert (row.source, row.fingerprint, row.prompts) == ("two.txt", "2" * 64, 1)
    assert get_prompt_set(session, "s")[1] == [("a lighthouse", {})]
    assert session.scalar(select(func.count()).select_from(PromptSetItem)) == 1


def test_unknown_name_lists_the_stored_ones(session: Session) -> None:
    with pytest.raises(UnknownNameError, match="none is stored yet"):
        get_prompt_set(session, "nope")
    add_prompt_set(session, "parti", "p.tsv", "p" * 64, ITEMS)
    session.commit()
    with pytest.raises(UnknownNameError, match="stored sets: parti"):
        get_prompt_set(session, "nope")
