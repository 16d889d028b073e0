"""Migration 0003 (four-image rounds, undo, folder studies) on a database at 0002 that holds votes, on
SQLite and PostgreSQL: everything already stored survives, and the new rules hold afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from imagearena.storage.engine import (
    current_revision,
    downgrade_database,
    head_revision,
    make_engine,
    upgrade_database,
)

NOW = "2026-01-01 00:00:00"


def _fill_0002(conn: Connection) -> None:
    """A study, two models, one prompt, two images, a match and its vote: rows as 0002 knew them."""
    conn.execute(
        text(
            "INSERT INTO study (id, name, kind, title, description, epoch, created_at) "
            "VALUES (1, 's', 'live', 'S', '', 0, :now)"
        ),
        {"now": NOW},
    )
    for model_id, name in ((1, "alpha"), (2, "beta")):
        conn.execute(
            text("INSERT INTO model (id, name, meta, created_at) VALUES (:id, :name, '{}', :now)"),
            {"id": model_id, "name": name, "now": NOW},
        )
    conn.execute(
        text(
            "INSERT INTO prompt (id, text, text_sha256, source, created_at) VALUES (1, 'p', :sha, '', :now)"
        ),
        {"sha": "0" * 64, "now": NOW},
    )
    for image_id in (1, 2):
        conn.execute(
            text(
                "INSERT INTO image (id, study_id, model_id, prompt_id, sha256, format, width, height, "
                "size_bytes, source, seed, created_at) "
                "VALUES (:id, 1, :id, 1, :sha, 'PNG', 8, 8, 10, '', NULL, :now)"
            ),
            {"id": image_id, "sha": str(image_id) * 64, "now": NOW},
        )
    conn.execute(
        text(
            "INSERT INTO match (id, study_id, prompt_id, left_image_id, right_image_id, nonce, voter, "
            "served_at) VALUES (1, 1, 1, 1, 2, 'n1', '', :now)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO vote (id, match_id, study_id, epoch, model_a_id, model_b_id, prompt_id, winner, "
            "judge, voter, tstamp) VALUES (1, 1, 1, 0, 1, 2, 1, 'model_a', 'human', 'v', :now)"
        ),
        {"now": NOW},
    )


def test_upgrade_from_0002_keeps_the_data_and_adds_the_new_rules(db_url):
    downgrade_database(db_url, "0002")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _fill_0002(conn)
        upgrade_database(db_url)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name, round_type, source FROM study")).one() == ("s", "pair", "")
            assert conn.execute(text("SELECT name, study_id FROM model ORDER BY id")).all() == [
                ("alpha", None),
                ("beta", None),
            ]
            assert conn.execute(text("SELECT match_id, winner, voter FROM vote")).one() == (1, "model_a", "v")
            assert conn.execute(text("SELECT image_3_id, image_4_id FROM match")).one() == (None, None)
            assert conn.execute(text("SELECT missing_since FROM image WHERE id = 1")).scalar() is None

        def insert_model(model_id: int, name: str, study_id: int | None) -> None:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO model (id, name, study_id, meta, created_at) "
                        "VALUES (:id, :name, :study, '{}', :now)"
                    ),
                    {"id": model_id, "name": name, "study": study_id, "now": NOW},
                )

        long_name = "folder/" * 100 + "x.png"  # 705 characters: a relative path
        insert_model(3, "alpha", 1)  # a study-owned contestant may share a global model's name
        insert_model(4, long_name, 1)
        with pytest.raises(IntegrityError):
            insert_model(5, "alpha", None)  # global names stay unique
        with pytest.raises(IntegrityError):
            insert_model(6, "alpha", 1)  # and names are unique within the owning study
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE study SET round_type = 'best5'"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE match SET image_3_id = 1"))  # three images is no round
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text("INSERT INTO undo (study_id, voter, tstamp) VALUES (1, '', :now)"), {"now": NOW}
            )
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO undo (study_id, vote_id, voter, tstamp) VALUES (1, 1, '', :now)"),
                {"now": NOW},
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:  # a decision is undone once
            conn.execute(
                text("INSERT INTO undo (study_id, vote_id, voter, tstamp) VALUES (1, 1, '', :now)"),
                {"now": NOW},
            )
    finally:
        engine.dispose()


def test_downgrade_to_0002_refuses_to_drop_decisions(db_url):
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _fill_0002(conn)
        downgrade_database(db_url, "0002")  # nothing 0002 cannot hold: the downgrade goes through
        assert current_revision(engine) == "0002"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM vote")).scalar() == 1
        upgrade_database(db_url)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO undo (study_id, vote_id, voter, tstamp) VALUES (1, 1, '', :now)"),
                {"now": NOW},
            )
        with pytest.raises(RuntimeError, match="keep it at 0003"):
            downgrade_database(db_url, "0002")
        # PostgreSQL rolls the whole downgrade back; SQLite keeps the later steps it had made. Either
        # way 0003 refused before changing anything: its tables and rows are there.
        assert current_revision(engine) in {"0003", head_revision()}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM undo")).scalar() == 1
    finally:
        engine.dispose()
