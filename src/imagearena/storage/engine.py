"""Engines and sessions for SQLite (default) and PostgreSQL, plus schema upgrades through Alembic.

SQLite gets its pragmas on every new connection (WAL, foreign keys, busy timeout, synchronous=NORMAL)
and starts transactions with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes
fails at once with "database is locked" when another writer committed in between (the busy timeout
does not help there), so under concurrent voters every transaction takes the write lock up front.
Readers that want no lock use :func:`read_engine`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from imagearena.errors import InputError

if TYPE_CHECKING:
    from alembic.config import Config

BUSY_TIMEOUT_MS = 30_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",
)
_BEGIN_OPTION = "imagearena_sqlite_begin"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as owner-only folders (0700), whatever the umask: the
    data dir holds the database, the secrets and the images. A folder that exists is left as it is."""
    path = Path(path).expanduser()
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # created meanwhile by a concurrent process
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def _create_private_file(path: Path) -> None:
    """An empty owner-only (0600) file, unless one exists. SQLite reads an empty file as an empty
    database and gives its -wal and -shm files the database file's permissions."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # os.open's mode is masked by the umask too
    finally:
        os.close(fd)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for in-memory and ``file:`` URI databases."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str, *, echo: bool = False, create: bool = True) -> Engine:
    """An engine for ``url`` with the project's connection settings.

    A SQLite file that does not exist is created, owner-only, in an owner-only folder; with
    ``create=False`` (read-only commands) it is an error instead, and nothing is created.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise InputError(
            f"not a database URL: {url!r}; use sqlite:///path.db or postgresql+psycopg://user@host/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is not None and not path.exists():
            if not create:
                raise InputError(
                    f"no database at {path}: check --db / IMAGEARENA_DB_URL, or create it with  "
                    f"imagearena db upgrade --db 'sqlite:///{path}'"
                )
            make_private_dir(path.parent)
            _create_private_file(path)
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            pool_size=8,
            max_overflow=64,
        )
        _install_sqlite_hooks(engine)
        return engine
    if backend == "postgresql":
        if "+" not in parsed.drivername:  # plain postgresql://: use psycopg 3, what the pg extra installs
            parsed = parsed.set(drivername="postgresql+psycopg")
        driver = parsed.get_driver_name()
        try:
            __import__(driver)
        except ImportError as exc:
            from imagearena.errors import MissingDependencyError

            raise MissingDependencyError("PostgreSQL storage", "pg", driver) from exc
        return create_engine(parsed, echo=echo, pool_size=16, max_overflow=64, pool_pre_ping=True)
    raise InputError(f"unsupported database {backend!r}: use sqlite:///path.db or postgresql+psycopg://...")


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def read_engine(engine: Engine) -> Engine:
    """The same pool, but SQLite transactions begin DEFERRED: for read-only work that must not queue
    behind writers (leaderboards, exports). A no-op on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit, so rows can be returned from use cases."""
    return sessionmaker(bind=engine, expire_on_commit=False)


# --- schema ------------------------------------------------------------------------------------------

PACKAGE_DIR = Path(__file__).resolve().parent
_MIGRATION_LOCK = 0x1A4E_0001  # an arbitrary key for pg_advisory_xact_lock


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config(str(PACKAGE_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision``: what ``imagearena db upgrade`` runs."""
    _migrate(url, "upgrade", revision)


def downgrade_database(url: str, revision: str) -> None:
    """Step the schema back to ``revision`` (``base`` empties it); for tests and rollbacks."""
    _migrate(url, "downgrade", revision)


def _migrate(url: str, direction: str, revision: str) -> None:
    from alembic import command

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes starting on an empty database (workers, a CLI run beside a server)
                # migrate one after the other; SQLite gets the same from BEGIN IMMEDIATE.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            cfg = alembic_config(url)
            cfg.attributes["connection"] = connection
            getattr(command, direction)(cfg, revision)
            connection.commit()
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(url: str) -> tuple[str, str | None]:
    """What ``imagearena db upgrade`` runs: bring the schema to the latest revision, then return the
    database as messages show it (no password) and the revision it is at. A database that cannot be
    reached is an InputError."""
    from sqlalchemy.exc import OperationalError

    try:
        upgrade_database(url)
        engine = make_engine(url)
        try:
            return display_url(engine.url), current_revision(engine)
        finally:
            engine.dispose()
    except OperationalError as exc:
        raise InputError(f"cannot open the database: {exc.orig}; check --db / IMAGEARENA_DB_URL") from exc


def revisions(url: str) -> tuple[str | None, str]:
    """(the revision an existing database is at, or None when empty; the one this version needs).
    Creates nothing."""
    engine = make_engine(url, create=False)
    try:
        return current_revision(engine), head_revision()
    finally:
        engine.dispose()


def display_url(url: str | URL) -> str:
    """A database URL as messages show it: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


def require_current_schema(engine: Engine) -> None:
    """Refuse to run against a database whose schema is missing or older than this code."""
    current = current_revision(engine)
    if current != head_revision():
        url = display_url(engine.url)
        state = "has no imagearena schema" if current is None else f"is at schema revision {current}"
        raise InputError(
            f"the database {url} {state}, this version needs {head_revision()}: "
            f"run  imagearena db upgrade --db '{url}'"
        )


def open_database(url: str, *, create: bool = True) -> Engine:
    """An engine on ``url`` whose schema is current: an empty database gets the schema created (what a
    first ``imagearena demo`` or ``import-folder`` needs); an older schema is an error asking for
    ``imagearena db upgrade``, so a shared database is never migrated as a side effect. With
    ``create=False`` a missing database or schema is an error and nothing is created (commands that
    need existing data, such as scoring a study)."""
    from sqlalchemy.exc import OperationalError

    engine = make_engine(url, create=create)
    try:
        if create and current_revision(engine) is None:
            upgrade_database(url)
        require_current_schema(engine)
    except OperationalError as exc:
        engine.dispose()
        shown = display_url(engine.url)
        raise InputError(
            f"cannot open the database {shown}: {exc.orig}; check --db / IMAGEARENA_DB_URL"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine
