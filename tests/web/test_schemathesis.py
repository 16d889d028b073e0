"""Property-based requests from /openapi.json against the in-process app: no answer is a 5xx, and
every answer (status, headers, body) is the one the schema documents.

Runs on a SQLite file holding the demo study, anonymously (admin routes answer 403) and with the
admin token for the routes that are safe to fuzz (creating studies, resets: not imports, which
would read folders of this machine).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

DEMO = "demo"
ADMIN_FUZZED = {("POST", "/api/v1/studies"), ("POST", "/api/v1/studies/{study}/reset")}
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from imagearena.arena.demo_data import seed_demo
    from imagearena.arena.runtime import Arena
    from imagearena.media import MediaStore
    from imagearena.settings import Settings
    from imagearena.storage.engine import make_engine, make_sessionmaker, upgrade_database
    from imagearena.web.app import create_app

    data = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{data / 'imagearena.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        seed_demo(session, MediaStore(data / "media"), size=32)
    engine.dispose()
    arena = Arena(Settings(data_dir=data, db_url=url))
    yield create_app(arena.settings, arena=arena, background_snapshots=False, snapshot_interval_s=0)
    arena.close()


def _schema_only_app():
    """The routes without a database: the schema is collected before any fixture runs."""
    from pathlib import Path

    from imagearena.settings import Settings
    from imagearena.web.app import create_app

    class NoArena:
        pass

    return create_app(Settings(data_dir=Path("unused")), arena=NoArena(), background_snapshots=False)  # type: ignore[arg-type]


schema = schemathesis.openapi.from_dict(_schema_only_app().openapi())


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case, app):
    key = (case.operation.method.upper(), case.operation.path)
    headers = {"Authorization": f"Bearer {app.state.arena.admin_token}"} if key in ADMIN_FUZZED else {}
    case.call_and_validate(app=app, headers=headers, checks=CONFORMANCE)
