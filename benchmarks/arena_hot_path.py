"""Where the time of one vote goes, in process (no network): serving a match, the HTTP layer around it,
and recording votes one at a time and from 64 concurrent voters through the group-commit writer.

It also measures the design choice behind serving: a self-contained signed token (serving writes
nothing) against the anchor of storing the match row when it is served (one more write transaction
per match, and the vote must then read it back).

    .venv/bin/python benchmarks/arena_hot_path.py
    .venv/bin/python benchmarks/arena_hot_path.py --db postgresql+psycopg://postgres@127.0.0.1/bench_hot

The end-to-end load test over loopback (64 voters, votes/s, p50/p99, SIGKILL) is bench_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path


def setup(db_url: str | None):
    from imagearena.arena.demo_data import seed_demo
    from imagearena.arena.runtime import Arena
    from imagearena.media import MediaStore
    from imagearena.settings import Settings
    from imagearena.storage.engine import make_sessionmaker, open_database

    data_dir = Path(tempfile.mkdtemp(prefix="arena-hot-"))
    settings = Settings(data_dir=data_dir, db_url=db_url)
    engine = open_database(settings.database_url)
    with make_sessionmaker(engine)() as session:
        seed_demo(session, MediaStore(settings.media_dir), size=32)
    engine.dispose()
    return settings, Arena(settings)


def per_call_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def asgi_match_us(settings, arena, n: int, hot_path: bool = True) -> tuple[float, float]:
    """(wall, CPU) microseconds of one POST /api/v1/studies/demo/matches through the whole app, without
    sockets, with the plain-ASGI front for next-match and vote on or off."""
    from imagearena.web.app import create_app

    app = create_app(settings, arena=arena, background_snapshots=False, hot_path=hot_path)
    path = "/api/v1/studies/demo/matches"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-length", b"0")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def run() -> tuple[float, float]:
        statuses = []

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(dict(scope), receive, send)
        t0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            await app(dict(scope), receive, send)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert set(statuses) == {200}, statuses
        return wall / n * 1e6, cpu / n * 1e6

    return asyncio.run(run())


def stored_match_us(arena, n: int) -> float:
    """The anchor: what writing the match row at serve time costs per match (its own transaction)."""
    from sqlalchemy import insert, select

    from imagearena.storage.models import Image, Match, Study

    with arena.session() as s:
        study_id = s.scalar(select(Study.id).where(Study.name == "demo"))
        image = s.execute(select(Image.id, Image.prompt_id).where(Image.study_id == study_id).limit(1)).one()
    t0 = time.perf_counter()
    for k in range(n):
        with arena.writing() as s:
            s.execute(
                insert(Match).values(
                    study_id=study_id,
                    prompt_id=image.prompt_id,
                    left_image_id=image.id,
                    right_image_id=image.id,
                    nonce=f"bench-{os.getpid()}-{k}-{time.time_ns()}",
                    served_at=datetime.now(UTC),
                )
            )
            s.commit()
    return (time.perf_counter() - t0) / n * 1e6


def front_on_off(settings, arena, n: int, rounds: int) -> dict[bool, list[tuple[float, float]]]:
    """asgi_match_us with the front on and off, interleaved (on, off, off, on, ...): both see the same
    machine load."""
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for r in range(rounds):
        for on in (True, False) if r % 2 == 0 else (False, True):
            runs[on].append(asgi_match_us(settings, arena, n, on))
    return runs


def report_front(runs: dict[bool, list[tuple[float, float]]]) -> None:
    for i, what in ((0, "wall"), (1, "CPU")):
        on, off = ([r[i] for r in runs[side]] for side in (True, False))
        paired = sorted(a / b for a, b in zip(on, off, strict=True))
        print(
            f"  {what:4}: front on {statistics.median(on):6.0f} us ({min(on):.0f}-{max(on):.0f}), "
            f"off {statistics.median(off):6.0f} us ({min(off):.0f}-{max(off):.0f}); "
            f"on/off {statistics.median(on) / statistics.median(off):.2f}, "
            f"per round {paired[0]:.2f}-{paired[-1]:.2f}"
        )


def main() -> None:
    from imagearena.arena.matches import serve_match
    from imagearena.arena.votes import record_vote

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary folder)")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the front on/off comparison")
    args = ap.parse_args()
    settings, arena = setup(args.db)
    n = args.n
    try:
        serve_match(arena, "demo")
        serve = per_call_us(lambda: serve_match(arena, "demo"), n)
        front = front_on_off(settings, arena, n, args.rounds)
        request = statistics.median(wall for wall, _ in front[True])
        tokens = iter([serve_match(arena, "demo").token for _ in range(n // 4)])
        one = per_call_us(lambda: record_vote(arena, next(tokens), "tie"), n // 4)
        tokens_c = [serve_match(arena, "demo").token for _ in range(n)]
        batches0 = arena.vote_writer.batches
        t0 = time.perf_counter()
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(lambda t: record_vote(arena, t, "model_a"), tokens_c))
        concurrent_rate = n / (time.perf_counter() - t0)
        batches = arena.vote_writer.batches - batches0
        stored = stored_match_us(arena, max(n // 4, 50))
    finally:
        arena.close()

    backend = settings.database_url.split(":", 1)[0]
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, shared with other work")
    print(f"database: {backend}; {n} matches")
    print(f"serve a match (pool draw + active sampler + signed token): {serve:8.0f} us")
    print(f"POST /matches through the whole ASGI app (no socket):          {request:8.0f} us")
    print(f"  the same, plain-ASGI front on vs off, {args.rounds} interleaved rounds (median, range):")
    report_front(front)
    print(f"record one vote, alone (one transaction):                     {one:8.0f} us")
    print(
        f"record votes from 64 concurrent voters: {concurrent_rate:8.0f} votes/s "
        f"({n / max(batches, 1):.1f} votes per transaction)"
    )
    print(
        f"anchor, storing the match row at serve time: {stored:8.0f} us per match, "
        f"{stored / serve:.1f}x the whole cost of serving from a signed token"
    )
    print(
        json.dumps(
            {
                "serve_us": serve,
                "request_us": request,
                "front_on_us": front[True],
                "front_off_us": front[False],
                "vote_us": one,
                "votes_per_s_64": concurrent_rate,
                "stored_match_us": stored,
            }
        )
    )


if __name__ == "__main__":
    main()
