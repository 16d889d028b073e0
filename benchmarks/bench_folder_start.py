"""Folder ranker start-up: how long `imagearena rank-folder DIR` takes to serve a folder of 10,000 small
images, and its peak memory, on a new ranking and on a resumed one.

    .venv/bin/python benchmarks/bench_folder_start.py                  # 10,000 images (and 2,500 for memory per image)
    .venv/bin/python benchmarks/bench_folder_start.py --images 10000 --small 0 --keep /tmp/folder10k

What it does: writes N distinct 8x6 PNGs into a temporary folder (10 subfolders; reused with --keep),
then for a new ranking (an empty state database) and for a resumed one (the same state, run again)
starts `imagearena rank-folder DIR --no-browser` as a subprocess and polls `GET /api/v1/folders/{study}`
until it answers 200 with `loading` false (the folder is read and rounds can be served), then asks for
one round (`POST .../matches`). It prints the wall time from the process start to that answer against
the 5 s anchor (as a ratio), the CPU time the server process had used by then (what the wall time
would be on an idle core: the development machine is shared), the time of the first answer (a
folder of 20,000 files or more is read while the server answers with a loading page; a smaller one
before the server starts, so there both times are one), the time of the first round,
the scan and sync times the command reports, and the server's peak resident memory (VmHWM) after the
first round. With --small M > 0 it also starts a new ranking of M images, so the memory per image
((peak at N - peak at M) / (N - M)) shows that memory grows linearly, not by a constant per run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ANCHOR_S = 5.0


def make_folder(root: Path, count: int) -> None:
    from PIL import Image

    if root.is_dir() and sum(1 for _ in root.rglob("*.png")) == count:
        return
    for i in range(count):
        path = root / f"set{i % 10:02d}" / f"img{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.new("RGB", (8, 6), (i % 256, (i // 256) % 256, 99)).save(buf, format="PNG")
        path.write_bytes(buf.getvalue())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: its share of a loaded machine left out."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(folder: Path, data: Path, timeout_s: float = 120.0) -> dict[str, float | str]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        str(ROOT / ".venv" / "bin" / "imagearena"),
        "rank-folder",
        str(folder),
        "--no-browser",
        "--port",
        str(port),
        "--data-dir",
        str(data),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    out: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        study = None
        ready = None
        first_answer = None
        while time.perf_counter() - started < timeout_s:
            found = re.search(r"study: (\S+)", "".join(out))
            study = found.group(1) if found else None
            if proc.poll() is not None:
                raise RuntimeError("rank-folder exited:\n" + "".join(out))
            if study:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/folders/{study}", timeout=5
                    ) as r:
                        state = json.load(r)
                        if r.status == 200 and first_answer is None:
                            first_answer = time.perf_counter() - started
                        if r.status == 200 and not state.get("loading"):
                            ready = time.perf_counter() - started
                            ready_cpu = cpu_s(proc.pid)
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
            time.sleep(0.02 if first_answer is None else 0.25)  # polls cost the server CPU too
        if ready is None:
            raise RuntimeError("rank-folder did not answer in time:\n" + "".join(out))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/studies/{study}/matches", method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            json.load(r)
        first_round = time.perf_counter() - started
        text = "".join(out)
        scan = re.search(r"scan ([\d.]+) s, sync ([\d.]+) s", text)
        return {
            "ready_s": ready,
            "first_answer_s": first_answer if first_answer is not None else ready,
            "ready_cpu_s": ready_cpu,
            "first_round_s": first_round,
            "scan_s": float(scan.group(1)) if scan else float("nan"),
            "sync_s": float(scan.group(2)) if scan else float("nan"),
            "peak_mb": peak_rss_mb(proc.pid),
            "images": state["images"],
        }
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument(
        "--small", type=int, default=2_500, help="a second, smaller folder for memory per image (0: skip)"
    )
    parser.add_argument("--keep", type=Path, help="make (or reuse) the image folders here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-folder-"))
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    folder = base / f"images-{args.images}"
    t = time.perf_counter()
    make_folder(folder, args.images)
    print(f"folder: {args.images} PNGs of 8x6 px in {folder} (made in {time.perf_counter() - t:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="bench-folder-data-") as data_dir:
        data = Path(data_dir)
        for label in ("new ranking", "resumed"):
            r = run(folder, data)
            print(
                f"{label:12s} {r['images']} images: serving after {r['ready_s']:.2f} s "
                f"(ratio to the {ANCHOR_S:.0f} s anchor {r['ready_s'] / ANCHOR_S:.2f}; server CPU by then "
                f"{r['ready_cpu_s']:.2f} s; first answer at {r['first_answer_s']:.2f} s), "
                f"first round at "
                f"{r['first_round_s']:.2f} s; scan {r['scan_s']:.1f} s, sync {r['sync_s']:.1f} s; "
                f"peak memory {r['peak_mb']:.0f} MB"
            )
            if label == "new ranking":
                big = r
        if args.small:
            small_folder = base / f"images-{args.small}"
            make_folder(small_folder, args.small)
            r = run(small_folder, data)
            per = (float(big["peak_mb"]) - float(r["peak_mb"])) * 1024 / (args.images - args.small)
            print(
                f"{'new ranking':12s} {r['images']} images: serving after {r['ready_s']:.2f} s; peak memory "
                f"{r['peak_mb']:.0f} MB -> {per:.1f} KB per image between {args.small} and {args.images}"
            )


if __name__ == "__main__":
    main()
