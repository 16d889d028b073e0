"""The database as the command line meets it: upgrade the schema, report its revision, prepare a server's
data, and open a session for a one-off command (seeding the demo, an import, a scoring run).

The CLI calls these and never storage/ or SQLAlchemy itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from imagearena.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def upgrade(url: str) -> tuple[str, str | None]:
    """Create the schema in a new database or bring an existing one to the latest revision; returns the
    database as messages show it and the revision it is now at."""
    from imagearena.storage.engine import upgrade_to_head

    return upgrade_to_head(url)


def revisions(url: str) -> tuple[str | None, str]:
    """(the revision the database is at, None when empty; the one this version needs). Creates nothing."""
    from imagearena.storage.engine import revisions as read

    return read(url)


def shown_url(url: str) -> str:
    """``url`` as messages show it: the password hidden."""
    from imagearena.storage.engine import display_url

    return display_url(url)


@contextmanager
def database_session(url: str, *, create: bool = True) -> Iterator[Session]:
    """A session on the database at ``url`` with a current schema (created in an empty database unless
    ``create`` is False), for a command that runs once; the caller's use case commits."""
    from imagearena.storage.engine import make_sessionmaker, open_database

    engine = open_database(url, create=create)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def prepare_server(settings: Settings) -> str:
    """What a server needs before its workers start: a current schema (created in an empty database), an
    owner-only data dir and the secrets, created once here rather than raced for by the workers.
    Returns the admin token."""
    from imagearena.arena.tokens import load_or_create_secret
    from imagearena.storage.engine import make_private_dir, open_database

    open_database(settings.database_url).dispose()
    make_private_dir(settings.data_dir)
    admin = settings.admin_token or load_or_create_secret(settings.data_dir, "admin_token", 24)
    load_or_create_secret(settings.data_dir, "secret_key")
    return admin
