"""The live round's overhead over the generators' own latency: what starting a round, waiting for its
images and sealing its match cost beyond the slowest generator of the round.

    .venv/bin/python benchmarks/bench_live.py                       # pairs and best-of-four, 40 rounds each
    .venv/bin/python benchmarks/bench_live.py --rounds 100 --delay-ms 100 --db postgresql+psycopg://...

The server is the real app under uvicorn on a loopback port (in this process, on its own thread), over
a fresh database. Its generators are ``openai`` entries pointed at a stub Images API in this file (a
threaded HTTP server that answers a 256 px PNG after ``--delay-ms``). A client (httpx, keep-alive)
starts a round with ``POST /api/v1/studies/{study}/live`` and follows it with ``GET
/api/v1/live/{job}?seen=&wait=`` until its match is ready. For each round:

    overhead = (time from the POST to the answer holding the match) - (the slowest generator's own time)

where a generator's own time is its ``generate()`` call (the HTTP request to the stub and the image's
decode in the backend), as the job records it. The overhead holds the prompt filter, the budget and
limit checks, the sampler's pick, the thread hand-offs, the safe decoder's check of each image, the
media store writes, the database transaction and the token, and the HTTP requests of the client.
Anchor: 50 ms at p50.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402

ANCHOR_MS = 50.0
KEY_ENV = "BENCH_LIVE_KEY"


def stub_images_api(delay_s: float) -> ThreadingHTTPServer:
    """An Images API that answers one 256 px PNG (its colour from the prompt) after ``delay_s``."""
    from PIL import Image

    cache: dict[int, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            shade = len(body.get("prompt", "")) * 7 % 255
            if shade not in cache:
                out = io.BytesIO()
                Image.new("RGB", (256, 256), (shade, 120, 200)).save(out, "PNG")
                cache[shade] = out.getvalue()
            time.sleep(delay_s)
            data = json.dumps({"data": [{"b64_json": base64.b64encode(cache[shade]).decode()}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def setup(db_url: str | None, stub_url: str):
    from imagearena.arena import live
    from imagearena.arena.runtime import Arena
    from imagearena.arena.studies import create_study
    from imagearena.settings import Settings
    from imagearena.storage.engine import open_database

    data = Path(tempfile.mkdtemp(prefix="bench-live-"))
    data.mkdir(exist_ok=True)
    entries = [
        f'[generators.gen-{i}]\nbackend = "openai"\nmodel = "stub-{i}"\nbase_url = "{stub_url}/v1"\n'
        f'api_key_env = "{KEY_ENV}"\nmax_concurrency = 8\n'
        for i in range(4)
    ]
    (data / "generators.toml").write_text("\n".join(entries))
    settings = Settings(data_dir=data, db_url=db_url, prompt_deny_terms="forbidden, banned phrase")
    open_database(settings.database_url).dispose()
    arena = Arena(settings)
    names = [f"gen-{i}" for i in range(4)]
    for study, round_type in (("live-pair", "pair"), ("live-best4", "best4")):
        create_study(arena, study, round_type=round_type)
        live.save_live_settings(arena, study, generators=names, daily_budget={n: 100_000 for n in names})
    return arena


def serve(arena):
    import uvicorn

    from imagearena.web.app import create_app

    app = create_app(arena.settings, arena=arena, background_snapshots=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def one_round(client, arena, study: str, prompt: str) -> tuple[float, float]:
    """(end-to-end ms, slowest generator ms) of one live round."""
    started = time.perf_counter()
    job = client.post(f"/api/v1/studies/{study}/live", json={"prompt": prompt, "voter": "bench"}).json()
    while job["state"] == "running":
        job = client.get(f"/api/v1/live/{job['job']}", params={"seen": job["version"], "wait": 30}).json()
    total = time.perf_counter() - started
    if job["state"] != "ready":
        raise SystemExit(f"a round failed: {job.get('error')}")
    generators = arena.live.job(job["job"]).generator_s
    return total * 1000, max(generators) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=40, help="rounds per round type (after 3 warm-up rounds)"
    )
    parser.add_argument("--delay-ms", type=float, default=200, help="the stub generators' latency")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()

    import httpx

    os.environ[KEY_ENV] = "sk-bench-0123456789"
    stub = stub_images_api(args.delay_ms / 1000)
    arena = setup(args.db, f"http://127.0.0.1:{stub.server_port}")
    server, thread, url = serve(arena)
    print(f"machine: {platform.node()}, {cpu_model()}, {os.cpu_count()} CPUs, shared with other work")
    print(f"database: {arena.engine.dialect.name}; stub generators answer after {args.delay_ms:g} ms")
    print(f"anchor: overhead under {ANCHOR_MS:g} ms at p50")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            for study, images in (("live-pair", 2), ("live-best4", 4)):
                for k in range(3):
                    one_round(client, arena, study, f"warm-up {k}")
                totals, overheads = [], []
                for k in range(args.rounds):
                    total, slowest = one_round(client, arena, study, f"a lighthouse number {k} at dawn")
                    totals.append(total)
                    overheads.append(total - slowest)
                overheads.sort()
                p50 = statistics.median(overheads)
                p90 = overheads[int(0.9 * (len(overheads) - 1))]
                print(
                    f"{study:11s} ({images} images, {args.rounds} rounds): end to end p50 {statistics.median(totals):7.1f} ms; "
                    f"overhead p50 {p50:6.1f} ms (ratio to anchor {p50 / ANCHOR_MS:.2f}), "
                    f"p90 {p90:6.1f} ms, max {overheads[-1]:6.1f} ms"
                )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        arena.close()
        stub.shutdown()


if __name__ == "__main__":
    main()
