"""A stalled database write (a table lock held by another connection) must not kill the vote writer,
and every answer must agree with the database: 201 means stored, an error means nothing stored. The
lock is PostgreSQL's ``LOCK TABLE``; the writer's time limit is made small through its setting."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from seeding import STUDY
from sqlalchemy import select

from imagearena.storage.models import Match

GUARD_S = 60  # only so that a hung vote fails the test instead of hanging it


@pytest.fixture
def stall_client(make_arena, make_client, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("holds a PostgreSQL table lock (SQLite waits its busy timeout instead)")
    arena = make_arena(vote_write_timeout_s=0.3)
    return arena, make_client(arena)


def _lock_table(db_url: str, table: str):
    import psycopg

    conn = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"))
    conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # psycopg holds it in a transaction
    return conn


def _nonces(arena) -> set[str]:
    with arena.read_session() as s:
        return set(s.scalars(select(Match.nonce)))


@pytest.mark.parametrize("table", ["vote", "match"])
def test_votes_during_a_table_lock_answer_503_store_nothing_and_succeed_afterwards(
    stall_client, db_url, table
):
    arena, client = stall_client
    tokens = [client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"] for _ in range(12)]

    def vote(token: str):
        return client.post("/api/v1/votes", json={"token": token, "winner": "tie"})

    lock = _lock_table(db_url, table)
    try:
        with ThreadPoolExecutor(12) as pool:
            during = [f.result(timeout=GUARD_S) for f in [pool.submit(vote, t) for t in tokens]]
    finally:
        lock.rollback()
        lock.close()
    assert {r.status_code for r in during} == {503}
    assert all("vote again with the same token" in r.json()["error"]["message"] for r in during)
    assert _nonces(arena) == set()  # every vote was answered "not stored", and none is being written

    # the lock is gone: voting resumes by itself, and the same tokens are accepted once
    after = [vote(t) for t in tokens]
    assert {r.status_code for r in after} == {201}
    assert _nonces(arena) == {arena.signer.verify(t).nonce_hex for t in tokens}
    assert {vote(t).status_code for t in tokens} == {409}
    fresh = client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"]
    assert vote(fresh).status_code == 201
