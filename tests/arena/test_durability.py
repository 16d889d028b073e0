"""SIGKILL the server in the middle of voting: no acknowledged vote may be lost, and the database
must open cleanly and serve again. A real `imagearena serve` process, loaded by the benchmark's
lean client for about a second (the full-size run is benchmarks/bench_load.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from imagearena.arena.demo_data import seed_demo
from imagearena.media import MediaStore
from imagearena.storage.engine import make_engine, make_sessionmaker

pytestmark = pytest.mark.slow

# The benchmark scripts import their sibling helpers, as they do when run from benchmarks/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_load as bench  # noqa: E402


def test_sigkill_mid_load_loses_no_acknowledged_vote(db_url, tmp_path):
    data = tmp_path / "data"
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        seed_demo(session, MediaStore(data / "media"), size=32)
    engine.dispose()

    proc = bench.start_server(db_url, data, bench.free_port(), workers=1)
    port = int(proc.args[proc.args.index("--port") + 1])
    killed_at: list[int] = []

    async def kill_mid_load(tally) -> None:
        while len(tally.acked) < 50:  # wait until votes are flowing
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at.append(len(tally.acked))

    try:
        tally = asyncio.run(bench.run_load(port, "demo", 16, 20.0, on_started=kill_mid_load))
    finally:
        bench.stop_server(proc, signal.SIGKILL)
    assert killed_at and tally.errors > 0  # the server really died under the voters
    assert len(tally.acked) >= 50

    count, ids = bench.count_votes(db_url)
    assert set(tally.acked) <= ids  # every acknowledged vote survived
    assert count <= len(tally.acked) + 16  # at most the in-flight ones were committed unacknowledged
    assert bench.integrity(db_url) == "ok"

    proc = bench.start_server(db_url, data, bench.free_port(), workers=1)
    port = int(proc.args[proc.args.index("--port") + 1])
    try:
        after = asyncio.run(bench.run_load(port, "demo", 2, 0.3))
    finally:
        bench.stop_server(proc)
    assert after.acked and after.errors == 0
    count_after, ids_after = bench.count_votes(db_url)
    assert count_after == count + len(after.acked) and ids <= ids_after
