"""The engine's connection settings and schema upgrades, on real SQLite files and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from imagearena.errors import InputError
from imagearena.storage.engine import (
    current_revision,
    downgrade_database,
    head_revision,
    make_engine,
    make_sessionmaker,
    open_database,
    read_engine,
    require_current_schema,
    upgrade_database,
)

TABLES = {"study", "model", "prompt", "image", "score", "match", "vote", "rating_snapshot", "alembic_version"}


def test_sqlite_pragmas_are_set_on_every_connection(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")  # creates the missing folder
    try:
        connections = [engine.raw_connection() for _ in range(3)]  # three distinct pooled connections
        for conn in connections:
            pragma = lambda name, c=conn: c.cursor().execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 30_000
            assert pragma("synchronous") == 1  # NORMAL
        for conn in connections:
            conn.close()
    finally:
        engine.dispose()


def test_sqlite_foreign_keys_are_enforced(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO image (study_id, model_id, prompt_id, sha256, format, width, height,"
                    " size_bytes, source, created_at) VALUES (99, 99, 99, 'x', 'PNG', 1, 1, 1, '', '2020-01-01')"
                )
            )
    finally:
        engine.dispose()


def test_sqlite_write_transactions_take_the_lock_up_front(sqlite_url):
    """A write transaction holds the write lock from BEGIN, so a second writer waits (busy timeout)
    instead of failing with 'database is locked' when it upgrades a read to a write."""
    engine = make_engine(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM study").scalar()
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        with read_engine(engine).connect() as conn:  # deferred: a reader takes no write lock
            conn.exec_driver_sql("SELECT count(*) FROM study").scalar()
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
    finally:
        engine.dispose()


def test_concurrent_read_then_write_transactions_all_succeed(sqlite_url):
    engine = make_engine(sqlite_url)
    Session = make_sessionmaker(engine)
    errors: list[Exception] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                with Session.begin() as session:
                    session.execute(text("SELECT count(*) FROM model")).scalar()
                    session.execute(
                        text("INSERT INTO model (name, meta, created_at) VALUES (:n, '{}', '2020-01-01')"),
                        {"n": f"m{n}-{i}"},
                    )
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM model").scalar() == 80
    finally:
        engine.dispose()


def test_fixture_database_is_at_head(engine):
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    require_current_schema(engine)


def test_upgrade_creates_schema_and_is_idempotent(db_url):
    # db_url is already at head: upgrading again changes nothing; a downgrade and upgrade round-trips.
    upgrade_database(db_url)
    downgrade_database(db_url, "base")
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        with pytest.raises(InputError, match="imagearena db upgrade"):
            require_current_schema(engine)
        upgrade_database(db_url)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_migrations_match_the_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from imagearena.storage.models import Base

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.parametrize("url", ["nonsense", "mysql://x@y/z"])
def test_bad_database_urls_are_user_errors(url):
    with pytest.raises(InputError):
        make_engine(url)


def test_concurrent_upgrades_of_an_empty_database_all_succeed(db_url):
    """Several processes may start on a new database at once: they migrate in turn."""
    import subprocess
    import sys

    downgrade_database(db_url, "base")
    code = "import sys; from imagearena.storage.engine import upgrade_database; upgrade_database(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg_3():
    engine = make_engine("postgresql://user@localhost/db")  # no connection is made
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask (022), under which plain mkdir and sqlite3 make world-readable files."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_sqlite_database_and_its_folders_are_private(tmp_path, permissive_umask):
    data = tmp_path / "data"
    path = data / "sub" / "imagearena.db"
    upgrade_database(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:  # an open WAL connection keeps the -wal and -shm files
            conn.exec_driver_sql("SELECT count(*) FROM study").scalar()
            side_files = [Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(p.exists() for p in side_files)
            assert {p.name: mode(p) for p in [path, *side_files]} == {
                p.name: 0o600 for p in [path, *side_files]
            }
        assert mode(data) == mode(data / "sub") == 0o700
    finally:
        engine.dispose()


def test_an_existing_folder_keeps_its_mode(tmp_path, permissive_umask):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    make_engine(f"sqlite:///{shared / 'x.db'}").dispose()
    assert mode(shared) == 0o755
    assert mode(shared / "x.db") == 0o600


def test_secrets_create_a_private_data_dir(tmp_path, permissive_umask):
    from imagearena.arena.tokens import load_or_create_secret

    data = tmp_path / "fresh" / "data"
    load_or_create_secret(data, "secret_key")
    assert mode(data) == mode(data.parent) == 0o700
    assert mode(data / "secret_key") == 0o600


def test_read_only_open_of_a_missing_sqlite_file_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "x.db"
    with pytest.raises(InputError, match=f"no database at {missing}.*imagearena db upgrade"):
        make_engine(f"sqlite:///{missing}", create=False)
    with pytest.raises(InputError, match="imagearena db upgrade"):
        open_database(f"sqlite:///{missing}", create=False)
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_of_an_existing_database_works(sqlite_url):
    engine = open_database(sqlite_url, create=False)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
