"""Helpers the repository modules share: get-or-create under concurrent writers, UTC timestamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")


def get_or_create(session: Session, find: Callable[[], T | None], build: Callable[[], T]) -> tuple[T, bool]:
    """The row ``find`` returns, or a new one from ``build``; ``(row, created)``.

    The insert runs in a savepoint: when a concurrent creator wins the unique constraint, the savepoint
    is rolled back, the other row is returned, and the caller's transaction is intact.
    """
    row = find()
    if row is not None:
        return row, False
    try:
        with session.begin_nested():
            row = build()
            session.add(row)
    except IntegrityError:
        row = find()
        if row is None:
            raise
        return row, False
    return row, True


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every timestamp we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
