"""The fixture factory of tests/conftest.py: every folder gets seeded arenas and in-process clients
from it, with settings overrides applied and validated like any other Settings value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from seeding import MODELS, PROMPTS, STUDY

TESTS = Path(__file__).resolve().parent


def test_make_client_serves_the_seeded_study_with_the_overrides(make_client) -> None:
    client = make_client(rate_limit_per_minute=1)
    images = client.get(f"/api/v1/studies/{STUDY}").json()["study"]["images"]
    assert images == len(MODELS) * len(PROMPTS)
    assert client.post(f"/api/v1/studies/{STUDY}/matches").status_code == 200
    assert client.post(f"/api/v1/studies/{STUDY}/matches").status_code == 429


def test_make_client_over_a_given_arena_shares_it(arena, admin_headers, make_client) -> None:
    small = make_client(arena, max_body_bytes=64)
    assert small.app.state.arena is arena
    body = {"name": "x" * 100}
    assert small.post("/api/v1/studies", json=body, headers=admin_headers).status_code == 413
    assert arena.settings.max_body_bytes == 1024 * 1024  # the shared Arena keeps its own settings


def test_make_arena_validates_the_overrides(make_arena) -> None:
    assert make_arena(elo_k=16).settings.elo_k == 16.0
    with pytest.raises(ValidationError):
        make_arena(rate_limit_per_minute=-1)


def test_no_conftest_loads_fixtures_from_another_folder() -> None:
    for conftest in TESTS.rglob("conftest.py"):
        assert "spec_from_file_location" not in conftest.read_text(encoding="utf-8"), conftest
