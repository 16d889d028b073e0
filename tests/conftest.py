"""Shared fixtures. Tests run on real SQLite files under tmp_path and never touch the network."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from seeding import seed_study

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from imagearena.arena.runtime import Arena
    from imagearena.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public test data not found at {SHARED_DATA}")
    return SHARED_DATA


# --- databases ---------------------------------------------------------------------------------------
# `db_url` runs a test on SQLite and on the local PostgreSQL server. Each database is migrated to head
# by imagearena.storage.engine.upgrade_database (what `imagearena db upgrade` runs) once per test run,
# then copied per test (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL).

PG_ADMIN_URL = os.environ.get("IMAGEARENA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_connect(dbname: str | None = None):
    import psycopg

    conninfo = PG_ADMIN_URL if dbname is None else PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{dbname}"
    return psycopg.connect(conninfo, autocommit=True, connect_timeout=3)


def _pg_url(dbname: str) -> str:
    return "postgresql+psycopg://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + f"/{dbname}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    from imagearena.storage.engine import upgrade_database

    path = tmp_path_factory.mktemp("db-template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_template():
    try:
        conn = _pg_connect()
    except Exception as exc:  # server down, psycopg missing, auth refused
        yield f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}: {exc})"
        return
    from imagearena.storage.engine import upgrade_database

    name = f"imagearena_tmpl_{os.getpid()}"
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            upgrade_database(_pg_url(name))
            yield name
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg_database(_pg_template):
    """One PostgreSQL database per test run, emptied before each test (TRUNCATE is ~100x faster
    than CREATE/DROP DATABASE, whose checkpoints dominated the PostgreSQL tests)."""
    if not _pg_template.startswith("imagearena_tmpl_"):
        yield _pg_template  # the reason PostgreSQL is unavailable
        return
    name = f"imagearena_test_{os.getpid()}"
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
        try:
            yield name
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_reset(name: str, template: str) -> None:
    """Empty every table and restart the ids; rebuild the database if a test changed its schema."""
    import psycopg

    def schema(dbname: str) -> tuple:
        with _pg_connect(dbname) as conn:
            tables = sorted(
                r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            version = conn.execute("SELECT version_num FROM alembic_version").fetchall() if tables else []
            return tuple(tables), tuple(version)

    wanted = schema(template)
    try:
        if schema(name) == wanted:
            for attempt in range(2):
                with _pg_connect(name) as conn:
                    try:
                        conn.execute("SET lock_timeout = '2s'")
                        tables = ", ".join(f'"{t}"' for t in wanted[0] if t != "alembic_version")
                        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                        return
                    except psycopg.errors.LockNotAvailable:
                        if attempt:
                            raise
                        conn.execute(  # a previous test left a transaction open: end it
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
    except psycopg.Error:
        pass
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    """An empty database at the latest schema, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path / "imagearena.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    name = request.getfixturevalue("_pg_database")
    if not name.startswith("imagearena_test_"):
        pytest.skip(name)
    _pg_reset(name, request.getfixturevalue("_pg_template"))
    yield _pg_url(name)


@pytest.fixture
def sqlite_url(tmp_path, _sqlite_template) -> str:
    """A fresh SQLite database at the latest schema, for tests that are about SQLite only."""
    import shutil

    path = tmp_path / "imagearena.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url):
    from imagearena.storage.engine import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    """A session on `engine`; the test commits what it wants to keep."""
    from imagearena.storage.engine import make_sessionmaker

    with make_sessionmaker(engine)() as session:
        yield session


@pytest.fixture
def settings(tmp_path, db_url):
    from imagearena.settings import Settings

    return Settings(data_dir=tmp_path / "data", db_url=db_url)


@pytest.fixture
def media_store(tmp_path):
    from imagearena.media import MediaStore

    return MediaStore(tmp_path / "media")


# --- arenas and web clients ----------------------------------------------------------------------------
# One factory builds every Arena and in-process client over the test's database, which holds the study
# seeding.STUDY. Overrides are Settings fields: make_arena(rate_limit_per_minute=3),
# make_client(max_body_bytes=64). The `seeded`, `arena`, `client` and `admin_headers` fixtures are the
# factory's defaults.


def _with_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """``settings`` with ``overrides`` applied and validated like any other Settings value."""
    from imagearena.settings import Settings

    return Settings(**{**settings.model_dump(), **overrides}) if overrides else settings


@pytest.fixture
def seeded(settings) -> Settings:
    """The settings of the test's database holding the study seeding.STUDY."""
    from imagearena.media import MediaStore
    from imagearena.storage.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            seed_study(session, MediaStore(settings.media_dir))
    finally:
        engine.dispose()
    return settings


@pytest.fixture
def make_arena(seeded) -> Iterator[Callable[..., Arena]]:
    """``make_arena(**overrides)``: an Arena over the seeded database with these settings overrides;
    every Arena it built is closed after the test."""
    from imagearena.arena.runtime import Arena

    made: list[Arena] = []

    def make(**overrides: Any) -> Arena:
        made.append(Arena(_with_overrides(seeded, overrides)))
        return made[-1]

    yield make
    for arena in reversed(made):
        arena.close()


@pytest.fixture
def make_client(make_arena) -> Iterator[Callable[..., TestClient]]:
    """``make_client(arena=None, *, hot_path=True, background_snapshots=False, snapshot_interval_s=0,
    client_address=None, **overrides)``: an in-process client of the web app (lifespan started).

    Without ``arena`` the app gets a new one from ``make_arena(**overrides)``; with it, the app shares
    that Arena and reads the overrides in its own settings (body limits...).
    """
    from fastapi.testclient import TestClient

    from imagearena.web.app import create_app

    with ExitStack() as clients:

        def make(
            arena: Arena | None = None,
            *,
            hot_path: bool = True,
            background_snapshots: bool = False,
            snapshot_interval_s: float = 0,
            client_address: tuple[str, int] | None = None,
            **overrides: Any,
        ) -> TestClient:
            if arena is None:
                arena = make_arena(**overrides)
                overrides = {}
            app = create_app(
                _with_overrides(arena.settings, overrides),
                arena=arena,
                hot_path=hot_path,
                background_snapshots=background_snapshots,
                snapshot_interval_s=snapshot_interval_s,
            )
            extra = {} if client_address is None else {"client": client_address}
            return clients.enter_context(TestClient(app, **extra))

        yield make


@pytest.fixture
def arena(make_arena) -> Arena:
    return make_arena()


@pytest.fixture
def client(make_client, arena) -> TestClient:
    return make_client(arena)


@pytest.fixture
def admin_headers(arena) -> dict[str, str]:
    return {"Authorization": f"Bearer {arena.admin_token}"}


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One Debian Chromium for the whole run, driven by Playwright's sync API (which allows one
    Playwright per thread, so every browser test in any folder shares this one)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: scripts/setup --test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(headless=True, executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
