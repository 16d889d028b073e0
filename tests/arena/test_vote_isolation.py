"""One bad actor must not hurt anyone else on the vote path: a vote the database refuses fails alone,
and text no database can store is refused at the edge, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from seeding import STUDY
from sqlalchemy import func, select

from imagearena.arena.matches import serve_match
from imagearena.arena.writer import write_match_votes
from imagearena.errors import InputError
from imagearena.storage.matches import MatchVote
from imagearena.storage.models import Match, Vote
from imagearena.web.app import create_app

POISON = ("bad\x00voter", "bad\ud800voter")  # NUL (PostgreSQL refuses it), a lone surrogate (both)


def _item(arena, winner: str = "tie", voter: str = "") -> MatchVote:
    claims = arena.signer.verify(serve_match(arena, STUDY).token)
    return MatchVote(claims, winner, voter=voter)


def _stored_nonces(arena) -> set[str]:
    with arena.read_session() as s:
        return set(s.scalars(select(Match.nonce)))


@pytest.mark.parametrize("poison", POISON)
def test_a_value_the_database_refuses_fails_alone_in_its_batch(arena, poison):
    """Bypassing the edge check: the storage layer itself keeps the rest of the group commit."""
    items = [_item(arena, voter=f"honest{i}") for i in range(6)]
    bad = replace(_item(arena), voter=poison)
    if poison == "bad\x00voter" and arena.is_sqlite:
        pytest.skip("SQLite stores a NUL")
    batch = items[:3] + [bad] + items[3:]
    results = write_match_votes(arena.writing, batch)
    assert isinstance(results[3], InputError)
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 3), results
    assert _stored_nonces(arena) == {it.nonce for it in items}


def test_a_replay_in_a_batch_fails_alone(arena):
    first = _item(arena)
    assert isinstance(write_match_votes(arena.writing, [first])[0], int)
    others = [_item(arena) for _ in range(3)]
    results = write_match_votes(arena.writing, [others[0], first, *others[1:]])
    assert type(results[1]).__name__ == "ConflictError"
    assert all(isinstance(results[i], int) for i in (0, 2, 3))


@pytest.mark.parametrize("hot_path", [True, False])
def test_poisoning_clients_among_48_concurrent_voters_hurt_no_one(arena, hot_path):
    """Every honest vote is acknowledged and stored; every poisoned one is a 400 and stores nothing."""
    app = create_app(arena.settings, arena=arena, background_snapshots=False, hot_path=hot_path)
    rounds = 4

    def voter(k: int) -> list[tuple[str, int, str]]:
        name = POISON[k % 2] if k % 12 == 0 else f"voter-{k}"  # 4 of the 48 send a poisoned voter id
        answers = []
        for _ in range(rounds):
            token = client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"]
            body = json.dumps({"token": token, "winner": "model_a", "voter": name})
            r = client.post("/api/v1/votes", content=body, headers={"content-type": "application/json"})
            answers.append((name, r.status_code, token))
        return answers

    with TestClient(app) as client, ThreadPoolExecutor(48) as pool:
        answers = [a for per_voter in pool.map(voter, range(48)) for a in per_voter]
    honest = [a for a in answers if a[0] not in POISON]
    poisoned = [a for a in answers if a[0] in POISON]
    assert len(honest) == 44 * rounds and len(poisoned) == 4 * rounds
    assert {status for _, status, _ in honest} == {201}
    assert {status for _, status, _ in poisoned} == {400}
    stored = _stored_nonces(arena)
    assert stored == {arena.signer.verify(token).nonce_hex for _, _, token in honest}
    with arena.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == len(honest)
