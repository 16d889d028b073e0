"""Load benchmark of the voting hot path: `imagearena serve` on loopback, N concurrent voters each
looping next-match + vote for a fixed time, on SQLite and on PostgreSQL.

Reports votes/s and p50/p99 latency of both requests, checks that the database holds exactly as many
votes as the server acknowledged with 2xx, then repeats the load and SIGKILLs the server in the
middle: every acknowledged vote must be in the database, which must open cleanly
(PRAGMA integrity_check on SQLite) and serve again after a restart.

The client is a lean asyncio HTTP/1.1 keep-alive client (no HTTP library) so that it takes as
little of the machine's CPU as possible from the server it measures.

    .venv/bin/python benchmarks/bench_load.py                      # both databases, 64 voters, 10 s
    .venv/bin/python benchmarks/bench_load.py --db sqlite --seconds 20 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TARGET_VOTES_PER_S = 500.0
TARGET_P99_MS = 100.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- a lean HTTP/1.1 client --------------------------------------------------------------------------


class Connection:
    """One keep-alive connection; requests are sent one at a time, like one voter's browser tab."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Tally:
    match_ms: list[float] = field(default_factory=list)
    vote_ms: list[float] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)  # vote ids the server acknowledged with 2xx
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0  # connection errors (expected after a kill)

    def count(self, what: str, status: int) -> None:
        key = f"{what} {status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1


async def voter(
    host: str, port: int, study: str, stop_at: float, tally: Tally, n: int, interval: float | None = None
) -> None:
    """One voter: next match, vote, repeat. With ``interval`` it starts a round every ``interval``
    seconds (a paced voter, like a person); without, it goes as fast as the server answers."""
    conn = Connection(host, port)
    winners = (b"model_a", b"model_b", b"tie", b"both_bad")
    i = n
    next_start = time.perf_counter() + (interval or 0) * (n / 64 % 1)
    try:
        while time.perf_counter() < stop_at:
            if interval:
                delay = next_start - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_start += interval
            t0 = time.perf_counter()
            status, body = await conn.post(f"/api/v1/studies/{study}/matches", b"{}")
            t1 = time.perf_counter()
            tally.match_ms.append((t1 - t0) * 1000)
            tally.count("match", status)
            if status != 200:
                continue
            token = json.loads(body)["token"]
            i += 1
            payload = b'{"token":"' + token.encode() + b'","winner":"' + winners[i % 4] + b'"}'
            status, body = await conn.post("/api/v1/votes", payload)
            tally.vote_ms.append((time.perf_counter() - t1) * 1000)
            tally.count("vote", status)
            if 200 <= status < 300:
                tally.acked.append(json.loads(body)["vote_id"])
    except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        tally.errors += 1
    finally:
        conn.close()


async def run_load(
    port: int, study: str, voters: int, seconds: float, on_started=None, rate: float | None = None
) -> Tally:
    """``rate``: total votes/s to offer, spread over the voters; None: closed loop, no think time."""
    tally = Tally()
    stop_at = time.perf_counter() + seconds
    interval = voters / rate if rate else None
    tasks = [
        asyncio.create_task(voter("127.0.0.1", port, study, stop_at, tally, n, interval))
        for n in range(voters)
    ]
    if on_started is not None:
        await on_started(tally)
    await asyncio.gather(*tasks)
    return tally


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


# --- server and databases ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(db_url: str, data_dir: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from imagearena.arena.demo_data import seed_demo
    from imagearena.media import MediaStore
    from imagearena.storage.engine import make_sessionmaker, open_database

    engine = open_database(db_url)
    with make_sessionmaker(engine)() as session:
        seed_demo(session, MediaStore(data_dir / "media"))
    engine.dispose()


def start_server(
    db_url: str, data_dir: Path, port: int, workers: int, hot_path: bool | None = None
) -> subprocess.Popen:
    """`imagearena serve`, or with ``hot_path`` set, one process of this script's `serve-one` mode (the
    same app and uvicorn options, with the plain-ASGI front for next-match and vote on or off)."""
    if hot_path is None:
        cmd = [
            PYTHON,
            "-m",
            "imagearena",
            "serve",
            "--db",
            db_url,
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ]
        if workers > 1:
            cmd += ["--workers", str(workers)]
    else:
        cmd = [PYTHON, str(Path(__file__).resolve()), "serve-one", db_url, str(data_dir), str(port)]
        cmd.append("on" if hot_path else "off")
    log = open(data_dir / f"server-{port}.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: see {data_dir}/server-{port}.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /api/v1/studies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start in 60 s")


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the server's own process group (workers included)
        proc.wait(timeout=30)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the server's process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def count_votes(db_url: str) -> tuple[int, set[int]]:
    from sqlalchemy import text

    from imagearena.storage.engine import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text("SELECT id FROM vote"))}
    engine.dispose()
    return len(ids), ids


def integrity(db_url: str) -> str:
    from sqlalchemy import text

    from imagearena.storage.engine import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            result = conn.execute(text("PRAGMA integrity_check")).scalar()
        else:
            conn.execute(text("SELECT count(*) FROM vote JOIN match ON match.id = vote.match_id")).scalar()
            result = "ok"
    engine.dispose()
    return str(result)


def make_database(kind: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'data' / 'imagearena.db'}", lambda: None
    import psycopg

    name = f"imagearena_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


# --- the benchmark -----------------------------------------------------------------------------------


def measure(
    db_url: str,
    data_dir: Path,
    workers: int,
    hot_path: bool | None,
    voters: int,
    seconds: float,
    rate: float | None,
) -> dict:
    """Start a server, warm it up, run the load, stop it; what the voters saw and what the server spent."""
    port = free_port()
    proc = start_server(db_url, data_dir, port, workers, hot_path)
    try:
        asyncio.run(run_load(port, "demo", voters, 1.0))  # warm-up: pools, caches, connections
        before, _ = count_votes(db_url)
        server_cpu, client_cpu = group_cpu_seconds(proc.pid), time.process_time()
        t0 = time.perf_counter()
        tally = asyncio.run(run_load(port, "demo", voters, seconds, rate=rate))
        elapsed = time.perf_counter() - t0
        server_cpu = group_cpu_seconds(proc.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        load = os.getloadavg()[0]
    finally:
        stop_server(proc)
    after, _ = count_votes(db_url)
    return {
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
        "elapsed_s": elapsed,
        "load_average": load,
        "votes": len(tally.acked),
        "votes_per_s": len(tally.acked) / elapsed,
        "server_cpu_ms_per_vote": server_cpu * 1000 / max(len(tally.acked), 1),
        "match_p50_ms": pct(tally.match_ms, 50),
        "match_p99_ms": pct(tally.match_ms, 99),
        "vote_p50_ms": pct(tally.vote_ms, 50),
        "vote_p99_ms": pct(tally.vote_ms, 99),
        "statuses": tally.statuses,
        "client_errors": tally.errors,
        "db_votes_added": after - before,
        "db_matches_acks": (after - before) == len(tally.acked),
    }


def bench(
    kind: str, voters: int, seconds: float, workers: int, kill_after: float, rate: float | None
) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"imagearena-bench-{kind}-"))
    (workdir / "data").mkdir()
    db_url, drop = make_database(kind, workdir)
    result: dict = {"db": kind, "voters": voters, "seconds": seconds, "workers": workers, "rate": rate}
    try:
        seed(db_url, workdir / "data")
        result.update(measure(db_url, workdir / "data", workers, None, voters, seconds, rate))
        # SIGKILL in the middle of the load, then restart.
        port = free_port()
        proc = start_server(db_url, workdir / "data", port, workers)

        async def killer(tally: Tally) -> None:
            await asyncio.sleep(kill_after)
            os.killpg(proc.pid, signal.SIGKILL)
            result["kill_acked_before"] = len(tally.acked)

        try:
            kill_tally = asyncio.run(run_load(port, "demo", voters, kill_after + 2.0, on_started=killer))
        finally:
            stop_server(proc, signal.SIGKILL)
        _, ids = count_votes(db_url)
        lost = [v for v in kill_tally.acked if v not in ids]
        port = free_port()
        proc = start_server(db_url, workdir / "data", port, workers)  # opens cleanly and serves
        try:
            restart = asyncio.run(run_load(port, "demo", 4, 0.5))
        finally:
            stop_server(proc)
        result.update(
            kill_acked=len(kill_tally.acked),
            kill_lost=len(lost),
            integrity=integrity(db_url),
            restart_votes=len(restart.acked),
        )
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# --- the plain-ASGI front on and off ------------------------------------------------------------------

COMPARED = (  # (key, title, higher is better)
    ("votes_per_s", "votes/s", True),
    ("server_cpu_ms_per_vote", "server CPU ms per vote (match + vote)", False),
    ("vote_p50_ms", "vote p50 ms", False),
    ("vote_p99_ms", "vote p99 ms", False),
    ("match_p50_ms", "match p50 ms", False),
    ("match_p99_ms", "match p99 ms", False),
)


def serve_one(db_url: str, data_dir: str, port: str, hot_path: str) -> None:
    """One server process as `imagearena serve` runs it (same uvicorn options), the front on or off."""
    import uvicorn

    sys.path.insert(0, str(ROOT / "src"))
    from imagearena.settings import Settings
    from imagearena.web.app import create_app

    settings = Settings(db_url=db_url, data_dir=Path(data_dir), host="127.0.0.1", port=int(port))
    app = create_app(settings, hot_path=hot_path == "on")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        access_log=False,
        log_level="warning",
        timeout_keep_alive=30,
        backlog=4096,
    )


def compare_hot_path(kind: str, voters: int, seconds: float, rate: float | None, rounds: int) -> dict:
    """``rounds`` runs each with the front on and off, interleaved on one database (on, off, off, on,
    ...) so that both see the same machine load and the same growing vote table."""
    workdir = Path(tempfile.mkdtemp(prefix=f"imagearena-bench-ab-{kind}-"))
    data = workdir / "data"
    data.mkdir()
    db_url, drop = make_database(kind, workdir)
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    try:
        seed(db_url, data)
        for r in range(rounds):
            for config in ("on", "off") if r % 2 == 0 else ("off", "on"):
                result = measure(db_url, data, 1, config == "on", voters, seconds, rate)
                runs[config].append(result)
                print(
                    f"  round {r + 1} {config:>3}: load average {result['load_average']:5.2f}  "
                    f"{result['votes_per_s']:7.1f} votes/s  {result['server_cpu_ms_per_vote']:5.2f} CPU ms/vote  "
                    f"vote p50/p99 {result['vote_p50_ms']:6.1f} / {result['vote_p99_ms']:6.1f} ms  "
                    f"match p50/p99 {result['match_p50_ms']:6.1f} / {result['match_p99_ms']:6.1f} ms",
                    flush=True,
                )
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"db": kind, "voters": voters, "seconds": seconds, "rate": rate, "runs": runs}


def report_comparison(c: dict) -> None:
    """Per measure: the median of each side with its range, the ratio on/off, and the noise: the
    largest spread (max - min) / median between repeated runs of one side. A difference is beyond the
    noise when the two ranges do not overlap: every run of one side beat every run of the other.
    Paired: the on/off ratio within each round (its two runs ran back to back, under much the same
    machine load), its range, and in how many rounds the front won."""
    on, off = c["runs"]["on"], c["runs"]["off"]
    print(f"\n== {c['db']}: front on vs off, {len(on)} runs each")
    print(
        f"  {'measure':38} {'on: median (min-max)':>23} {'off: median (min-max)':>23} {'on/off':>6} "
        f"{'noise':>5}  {'unpaired':13} {'paired on/off':>13} {'on won':>7}"
    )
    for key, title, higher_is_better in COMPARED:
        sides = {"on": sorted(r[key] for r in on), "off": sorted(r[key] for r in off)}
        medians = {config: statistics.median(v) for config, v in sides.items()}
        noise = max((v[-1] - v[0]) / medians[config] for config, v in sides.items())
        apart = sides["on"][-1] < sides["off"][0] or sides["off"][-1] < sides["on"][0]
        paired = sorted(a[key] / b[key] for a, b in zip(on, off, strict=True))
        won = sum((a[key] > b[key]) == higher_is_better for a, b in zip(on, off, strict=True))
        cells = [f"{medians[k]:.2f} ({sides[k][0]:.2f}-{sides[k][-1]:.2f})" for k in ("on", "off")]
        print(
            f"  {title:38} {cells[0]:>23} {cells[1]:>23} {medians['on'] / medians['off']:6.2f} {noise:5.0%}  "
            f"{'ranges apart' if apart else 'ranges overlap':13} {paired[0]:5.2f} - {paired[-1]:5.2f} "
            f"{won:3}/{len(on)}"
        )
    if not all(r["db_matches_acks"] for r in [*on, *off]):
        print("  MISMATCH: votes in the database differ from the 2xx vote responses")


def machine() -> str:
    cpu = cpu_model()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def report(r: dict) -> None:
    load = f"paced at {r['rate']:.0f} votes/s offered" if r["rate"] else "closed loop (no think time)"
    print(
        f"\n== {r['db']}: {r['voters']} voters, {load}, {r['seconds']:.0f} s, {r['workers']} server worker(s)"
    )
    print(
        f"  votes/s      {r['votes_per_s']:8.1f}   target >= {TARGET_VOTES_PER_S:.0f}   "
        f"ratio {r['votes_per_s'] / TARGET_VOTES_PER_S:.2f}"
    )
    print(
        f"  vote p50/p99  {r['vote_p50_ms']:6.1f} / {r['vote_p99_ms']:6.1f} ms   target p99 < {TARGET_P99_MS:.0f} ms   "
        f"ratio {r['vote_p99_ms'] / TARGET_P99_MS:.2f}"
    )
    print(f"  match p50/p99 {r['match_p50_ms']:6.1f} / {r['match_p99_ms']:6.1f} ms")
    print(f"  responses    {r['statuses']}  client errors {r['client_errors']}")
    print(
        f"  CPU          server {r['server_cpu_s'] / r['elapsed_s']:.2f} cores, "
        f"load client {r['client_cpu_s'] / r['elapsed_s']:.2f} cores (of {os.cpu_count()})"
    )
    ok = "OK" if r["db_matches_acks"] else "MISMATCH"
    print(f"  votes in db  {r['db_votes_added']} = 2xx vote responses {r['votes']}: {ok}")
    lost_ok = "OK" if r["kill_lost"] == 0 else "LOST VOTES"
    print(
        f"  SIGKILL      {r['kill_acked']} votes acknowledged, {r['kill_lost']} missing after the kill: {lost_ok}; "
        f"integrity {r['integrity']}; after restart {r['restart_votes']} votes in 0.5 s"
    )


def main() -> None:
    if sys.argv[1:2] == ["serve-one"]:  # a server process started by compare_hot_path
        serve_one(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--voters", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kill-after", type=float, default=2.0, help="seconds of load before the SIGKILL")
    parser.add_argument(
        "--rate", type=float, help="offer this many votes/s in total (paced voters); default: closed loop"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--compare-hot-path",
        type=int,
        metavar="ROUNDS",
        help="instead: ROUNDS runs each with the plain-ASGI front for next-match and vote on and off, "
        "interleaved, 1 worker, no kill test",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}  (the load generator runs on the same cores as the server)")
    if args.compare_hot_path:
        compare_all(args)
        return
    results = []
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        try:
            r = bench(kind, args.voters, args.seconds, args.workers, args.kill_after, args.rate)
        except Exception as exc:  # e.g. PostgreSQL not running: report and go on
            print(f"\n== {kind}: skipped ({type(exc).__name__}: {exc})")
            continue
        report(r)
        results.append(r)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    if any(not r["db_matches_acks"] or r["kill_lost"] or r["integrity"] != "ok" for r in results):
        sys.exit(1)


def compare_all(args: argparse.Namespace) -> None:
    load = f"paced at {args.rate:.0f} votes/s offered" if args.rate else "closed loop (no think time)"
    print(f"{args.voters} voters, {load}, {args.seconds:.0f} s per run, load average {os.getloadavg()}")
    results = []
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        print(f"\n== {kind}")
        c = compare_hot_path(kind, args.voters, args.seconds, args.rate, args.compare_hot_path)
        report_comparison(c)
        results.append(c)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "comparisons": results}, indent=2))


if __name__ == "__main__":
    main()
