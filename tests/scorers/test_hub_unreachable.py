"""With the hub unreachable and HF_HUB_OFFLINE unset, a scorer whose files are not local fails at once
with the offline hint: one probe request, never huggingface_hub's retry loop (49 requests and about four
minutes for ImageReward before). The hub is a local stub that answers 503 to everything and counts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image


class Unavailable(BaseHTTPRequestHandler):
    """Every request is 503: the answer huggingface_hub retries with backoff."""

    def _answer(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_hub() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def refusing_endpoint() -> str:
    """An address where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def score(endpoint: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(folder / "a.png")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-m", "imagearena", "score", "--device", "cpu", *args, "-p", "a cat", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,  # a safety net only: the old retry loop took about four minutes
    )


def file_requests(hub: ThreadingHTTPServer) -> list[str]:
    """Requests for repository files; huggingface_hub also fetches /api/agent-harnesses once a day for
    its request headers (a 3 s timeout, no retry), which is not ours to count."""
    return [p for p in hub.paths if not p.startswith("/api/")]  # type: ignore[attr-defined]


def assert_offline_hint(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "the hub cannot be reached" in result.stderr and "HF_HUB_OFFLINE=1" in result.stderr


def test_imagereward_asks_the_hub_once_for_its_weights_first(stub_hub, tmp_path):
    result = score(f"http://127.0.0.1:{stub_hub.server_port}", tmp_path, "--scorer", "imagereward")
    assert_offline_hint(result)
    assert "ImageReward.pt" in result.stderr
    [request] = file_requests(stub_hub)
    assert request.startswith("/THUDM/ImageReward/") and request.endswith("/ImageReward.pt")


def test_a_transformers_model_asks_the_hub_once(stub_hub, tmp_path):
    result = score(
        f"http://127.0.0.1:{stub_hub.server_port}", tmp_path, "--scorer", "clip", "--weights", "acme/no-clip"
    )
    assert_offline_hint(result)
    assert file_requests(stub_hub) == ["/acme/no-clip/resolve/main/config.json"]


def test_refused_connections_fail_with_the_hint(tmp_path):
    assert_offline_hint(score(refusing_endpoint(), tmp_path, "--scorer", "imagereward"))
