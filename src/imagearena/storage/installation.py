"""Repository function for the installation row: this database's random id, which match tokens are
bound to, so a token issued for another database (sharing the secret key) is refused instead of
voting on the wrong rows."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from imagearena.storage.models import Installation


def installation_id(session: Session) -> str:
    """This database's id, created on first use; the caller commits. A concurrent creator's id wins."""
    found = _find(session)
    if found:
        return found
    try:
        with session.begin_nested():
            session.execute(
                insert(Installation).values(
                    id=1, installation_id=secrets.token_hex(16), created_at=datetime.now(UTC)
                )
            )
    except IntegrityError:  # another process created it first: use theirs
        pass
    return _find(session) or ""


def _find(session: Session) -> str | None:
    return session.scalar(select(Installation.installation_id).where(Installation.id == 1))
