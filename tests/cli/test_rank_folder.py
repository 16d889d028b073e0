"""`imagearena rank-folder` as a person runs it: a real process, driven through its JSON API, killed
with SIGKILL and started again; exports and imports from the command line."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_process import clean_env, imagearena
from folder_files import bomb_png, make_folder

from imagearena.folders.formats import parse_decision_log, read_rankings_csv


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


class Server:
    """`imagearena rank-folder` in its own process group, ready once its folder is read (its state
    answers with loading false); ``lines`` collects what it prints."""

    def __init__(self, folder: Path, data: Path, *extra: str) -> None:
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imagearena",
                "rank-folder",
                str(folder),
                "--no-browser",
                "--port",
                str(self.port),
                "--data-dir",
                str(data),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=clean_env(),
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 90
        self.study = ""
        while not self.study and self.proc.poll() is None and time.monotonic() < deadline:
            found = re.search(r"study: (\S+)", "".join(self.lines))
            self.study = found.group(1) if found else ""
            time.sleep(0.02)
        assert self.study, "rank-folder did not start:\n" + "".join(self.lines)
        self.states: list[dict] = []
        while time.monotonic() < deadline:
            try:
                status, state = _call(f"{self.base}/api/v1/folders/{self.study}")
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
                continue
            self.states.append(state)
            if status == 200 and not state["loading"] and re.search(r"images, mode", "".join(self.lines)):
                return
            time.sleep(0.05)
        raise AssertionError("rank-folder did not read its folder:\n" + "".join(self.lines))

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 9, subfolders=3)
    (root / "bomb.png").write_bytes(bomb_png())
    return root


@pytest.mark.slow
def test_a_killed_ranker_resumes_where_it_was_with_its_decisions_in_order(folder, tmp_path):
    data = tmp_path / "data"
    rng = random.Random(5)
    server = Server(folder, data, "--mode", "best4")
    cast: list[dict[str, int]] = []
    try:
        text = "".join(server.lines)
        assert "New ranking" in text and "9 images" in text and "bomb.png: too-many-pixels" in text
        for k in range(12):
            status, match = _call(f"{server.base}/api/v1/studies/{server.study}/matches", {})
            assert status == 200 and match["round_type"] == "best4" and len(match["images"]) == 4
            assert all(server.study not in image["image_url"] for image in match["images"])
            image = urllib.request.urlopen(server.base + match["images"][0]["image_url"], timeout=20).read()
            assert image.startswith(b"\x89PNG")
            ranks = [2, 2, 2, 2]
            ranks[rng.randrange(4)] = 1
            if k == 5:
                ranks = [1, 1, 1, 1]  # no clear best
            status, vote = _call(f"{server.base}/api/v1/votes", {"token": match["token"], "ranks": ranks})
            assert status == 201, vote
            cast.append(dict(zip(vote["models"], vote["ranks"], strict=True)))
            last_token = match["token"]
        status, undone = _call(f"{server.base}/api/v1/undo", {"token": last_token})
        assert status == 201, undone
        cast.pop()
        assert _call(f"{server.base}/api/v1/undo", {"token": last_token})[0] == 409
    finally:
        server.kill()  # SIGKILL: no shutdown handler runs

    again = Server(folder, data)  # no --mode: the ranking keeps best4
    try:
        assert "Resumed" in "".join(again.lines) and again.study == server.study
        state = _call(f"{again.base}/api/v1/folders/{again.study}")[1]
        assert (state["images"], state["decisions"]) == (9, 11)
        status, match = _call(f"{again.base}/api/v1/studies/{again.study}/matches", {})
        assert status == 200 and match["round_type"] == "best4"  # serving again, in its mode
    finally:
        again.kill()

    log = tmp_path / "log.jsonl"
    result = imagearena(
        "rank-folder", str(folder), "--data-dir", str(data), "--export-log", str(log), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    kind, decisions = parse_decision_log(log.read_text())
    assert [dict(zip(d.images, d.ranks, strict=True)) for d in decisions] == cast


@pytest.mark.slow
def test_export_and_image_ranker_import_from_the_command_line(folder, tmp_path):
    data = tmp_path / "data"
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("img*.png"))
    ir = tmp_path / "image_ranker.csv"
    with ir.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Winner", "Loser"])
        for loser in names[1:]:
            writer.writerow([Path(names[0]).name, Path(loser).name])  # Image Ranker logs bare file names
    out = tmp_path / "rankings.csv"
    before = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    result = imagearena(
        "rank-folder",
        str(folder),
        "--data-dir",
        str(data),
        "--import",
        str(ir),
        "--export",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Imported 8 decisions (image-ranker log)" in result.stdout
    lines = read_rankings_csv(out)
    assert len(lines) == 9 and lines[0].image == names[0] and lines[0].wins == 8
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == before
    assert (data / "folders").is_dir()


@pytest.mark.slow
def test_user_errors_are_one_line_without_a_traceback(folder, tmp_path):
    result = imagearena(
        "rank-folder", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d"), cwd=tmp_path
    )
    assert result.returncode == 1 and "no such folder" in result.stderr and "Traceback" not in result.stderr
    result = imagearena(
        "rank-folder", str(folder), "--data-dir", str(folder / "state"), "--no-serve", cwd=tmp_path
    )
    assert result.returncode == 1 and "outside it" in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "state").exists()
    state = f"sqlite:///{folder / 'ranking.db'}"
    result = imagearena(
        "rank-folder", str(folder), "--data-dir", str(tmp_path / "d"), "--state", state, cwd=tmp_path
    )
    assert result.returncode == 1 and "outside it" in result.stderr and not (folder / "ranking.db").exists()
