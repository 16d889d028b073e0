"""Voting through a long database lock, with poisoning voters mixed in (PostgreSQL).

Starts `imagearena demo` on a fresh PostgreSQL database, runs concurrent voters (some of them send a
voter id no database can store), holds ``LOCK TABLE vote`` from another connection for a while, then
releases it. It prints how the honest votes were answered before, during and after the lock, and how
many answers contradict the database (a 201 whose vote is missing, or an error whose vote was stored).
It exits non-zero on a contradiction or when no vote is acknowledged after the lock.

    .venv/bin/python benchmarks/vote_stall.py --lock-seconds 60 --voters 48 --poisoners 4
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1"


def _post(base: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _nonce(token: str) -> str:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[1:13].hex()


def _wait_until_up(base: str) -> None:
    for _ in range(120):
        try:
            urllib.request.urlopen(base + "/api/v1/studies", timeout=2)
            return
        except OSError:
            time.sleep(1)
    sys.exit("the server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock-seconds", type=float, default=60.0)
    parser.add_argument("--voters", type=int, default=48)
    parser.add_argument("--poisoners", type=int, default=4)
    parser.add_argument("--before", type=float, default=10.0, help="seconds of voting before the lock")
    parser.add_argument("--after", type=float, default=20.0, help="seconds of voting after the lock")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    db = "imagearena_vote_stall"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.execute(f"CREATE DATABASE {db}")
    base = f"http://127.0.0.1:{args.port}"
    data_dir = tempfile.mkdtemp(prefix="vote-stall-")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/imagearena"), "demo", "--db", f"postgresql+psycopg://postgres@127.0.0.1/{db}",
         "--port", str(args.port), "--data-dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_until_up(base)

    results: list[tuple[float, bool, int, str]] = []  # (time, honest, status, token)
    stop_at = time.time() + args.before + args.lock_seconds + args.after

    def voter(k: int) -> None:
        honest = k >= args.poisoners
        while time.time() < stop_at:
            status, match = _post(base, "/api/v1/studies/demo/matches", {})
            if status != 200:
                time.sleep(0.2)
                continue
            voter_id = f"voter-{k}" if honest else "bad\x00voter"
            status, _ = _post(
                base, "/api/v1/votes", {"token": match["token"], "winner": "tie", "voter": voter_id}
            )
            results.append((time.time(), honest, status, match["token"]))

    threads = [threading.Thread(target=voter, args=(k,)) for k in range(args.voters)]
    for thread in threads:
        thread.start()
    time.sleep(args.before)
    lock = psycopg.connect(f"{PG}/{db}")
    lock.execute("LOCK TABLE vote IN ACCESS EXCLUSIVE MODE")
    locked_at = time.time()
    time.sleep(args.lock_seconds)
    lock.rollback()
    released_at = time.time()
    lock.close()
    for thread in threads:
        thread.join()
    server.terminate()
    server.wait(30)

    with psycopg.connect(f"{PG}/{db}") as conn:
        stored = {row[0] for row in conn.execute("SELECT nonce FROM match")}
        votes_in_db = conn.execute("SELECT count(*) FROM vote").fetchone()[0]
    honest = [r for r in results if r[1]]
    contradictions = sum(1 for t, _, status, token in honest if (status == 201) != (_nonce(token) in stored))
    phases = {"before": lambda t: t <= locked_at, "during": lambda t: locked_at < t <= released_at,
              "after": lambda t: t > released_at}  # fmt: skip
    print(f"{args.voters} voters ({args.poisoners} poisoning), lock held {args.lock_seconds:.0f} s")
    for phase, inside in phases.items():
        counts = Counter(status for t, _, status, _ in honest if inside(t))
        print(f"  honest votes {phase} the lock: {dict(sorted(counts.items()))}")
    print(f"  poisoning votes: {dict(Counter(r[2] for r in results if not r[1]))}")
    acked_after = [t for t, _, status, _ in honest if status == 201 and t > released_at]
    first = f"{acked_after[0] - released_at:.2f} s after release" if acked_after else "never"
    print(f"  first acknowledged vote after the lock: {first}")
    print(f"  votes in the database: {votes_in_db}; answers contradicting the database: {contradictions}")
    return 1 if contradictions or not acked_after else 0


if __name__ == "__main__":
    sys.exit(main())
