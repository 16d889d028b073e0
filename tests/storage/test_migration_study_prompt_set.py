"""Migration 0007 (a prompt set attached to a study) on a database at 0006 that holds a study and a
stored set, on SQLite and PostgreSQL: both survive, the study has no set until one is attached, and
the step back to 0006 drops only the attachment."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from imagearena.storage.engine import current_revision, downgrade_database, make_engine, upgrade_database

NOW = "2026-01-01 00:00:00"


def test_upgrade_from_0006_keeps_studies_and_sets_and_adds_the_attachment(db_url):
    downgrade_database(db_url, "0006")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO study (id, name, kind, title, description, epoch, round_type, source, "
                    "created_at) VALUES (1, 's', 'live', 'S', '', 0, 'pair', '', :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO prompt_set (id, name, source, fingerprint, created_at) "
                    "VALUES (1, 'animals', 'a.txt', :fp, :now)"
                ),
                {"fp": "f" * 64, "now": NOW},
            )
        upgrade_database(db_url)
        assert current_revision(engine) == "0007"
        with engine.begin() as conn:
            assert conn.execute(text("SELECT name, title, prompt_set_id FROM study")).one() == (
                "s",
                "S",
                None,
            )
            conn.execute(text("UPDATE study SET prompt_set_id = 1 WHERE id = 1"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE study SET prompt_set_id = 99 WHERE id = 1"))
        downgrade_database(db_url, "0006")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT name FROM study")).scalars().all() == ["s"]
            assert conn.execute(text("SELECT name FROM prompt_set")).scalars().all() == ["animals"]
        upgrade_database(db_url)
    finally:
        engine.dispose()
