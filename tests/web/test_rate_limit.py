"""A per-client rate limit on matches and votes: 429 with Retry-After past it, admins exempt, other
clients unaffected; the plain-ASGI hot path and the FastAPI routes alike."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from seeding import STUDY

LIMIT = 3


@pytest.fixture(params=[True, False], ids=["hot_path", "fastapi"])
def limited(request, make_arena, make_client):
    arena = make_arena(rate_limit_per_minute=LIMIT)
    one = make_client(arena, hot_path=request.param)
    with TestClient(one.app, client=("10.0.0.2", 40000)) as other:  # the same app: shared limiter
        yield arena, one.app, one, other


def _match(client, **kw):
    return client.post(f"/api/v1/studies/{STUDY}/matches", **kw)


def _refused(r) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["type"] == "RateLimitedError" and "try again" in r.json()["error"]["message"]


def test_matches_over_the_limit_are_429_for_that_client_only(limited):
    arena, _, one, other = limited
    tokens = [_match(one).json()["token"] for _ in range(LIMIT)]
    _refused(_match(one))
    assert _match(other).status_code == 200  # another address has its own budget
    # votes have their own budget: the matches already served can be voted on
    for token in tokens:
        assert one.post("/api/v1/votes", json={"token": token, "winner": "tie"}).status_code == 201


def test_votes_over_the_limit_are_429_and_store_nothing(limited):
    arena, _, one, other = limited
    admin = {"Authorization": f"Bearer {arena.admin_token}"}
    tokens = [_match(other, headers=admin).json()["token"] for _ in range(LIMIT + 1)]
    for token in tokens[:LIMIT]:
        assert one.post("/api/v1/votes", json={"token": token, "winner": "tie"}).status_code == 201
    _refused(one.post("/api/v1/votes", json={"token": tokens[-1], "winner": "tie"}))
    # the refused vote was not stored: the token is still good, from a client with budget left
    assert other.post("/api/v1/votes", json={"token": tokens[-1], "winner": "tie"}).status_code == 201


def test_admins_are_not_limited(limited):
    arena, _, one, _ = limited
    admin = {"Authorization": f"Bearer {arena.admin_token}"}
    for _ in range(LIMIT):
        _match(one)
    _refused(_match(one))
    for _ in range(2 * LIMIT):
        assert _match(one, headers=admin).status_code == 200
    _refused(_match(one, headers={"Authorization": "Bearer wrong"}))
