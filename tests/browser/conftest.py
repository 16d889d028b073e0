"""Browser fixtures: Debian's Chromium driven by Playwright, at a desktop and a phone size, against real
servers: the `imagearena demo` command, or the app served in-process over studies a test describes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

#: The two sizes every layout test runs at: a laptop screen and a 390 x 844 phone (iPhone 12 to 15).
SIZES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, alive: Callable[[], bool], what: str) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if not alive():
            pytest.fail(f"{what} stopped before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not start listening")


@pytest.fixture(params=sorted(SIZES))
def size(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def contexts(chromium) -> Iterator[dict[str, Any]]:
    """One browser context per size for the module, made when first asked for."""
    made: dict[str, Any] = {}
    yield made
    for context in made.values():
        context.close()


@pytest.fixture
def sized_page(contexts, chromium, size) -> Iterator[Any]:
    """A new page at the test's size; ``page.problems`` collects script errors and
    Content-Security-Policy refusals, which a test can assert are absent."""
    if size not in contexts:
        contexts[size] = chromium.new_context(**SIZES[size])
    page = contexts[size].new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text) if msg.type == "error" and "Content Security" in msg.text else None
        ),
    )
    page.problems = problems
    yield page
    page.close()


# --- servers --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, chromium) -> Iterator[str]:
    """`imagearena demo` in its own process, on a fresh data dir (skipped with the browser)."""
    data = tmp_path_factory.mktemp("demo")
    port = _free_port()
    exe = Path(sys.executable).with_name("imagearena")
    proc = subprocess.Popen(
        [str(exe), "demo", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        _wait_listening(port, lambda: proc.poll() is None, "imagearena demo")
    except BaseException:
        proc.kill()
        raise
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


class LiveServer:
    """The app over one Arena, served by uvicorn on a thread of the test process."""

    def __init__(self, arena: Any) -> None:
        import uvicorn

        from imagearena.web.app import create_app

        self.arena = arena
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(arena.settings, arena=arena, snapshot_interval_s=3600, background_snapshots=False)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        _wait_listening(self.port, self.thread.is_alive, "the in-process server")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def vote(self, study: str, winners: list[str]) -> None:
        """Votes through the public API, as a browser would send them."""
        import httpx

        with httpx.Client(base_url=self.url) as client:
            for winner in winners:
                match = client.post(f"/api/v1/studies/{study}/matches")
                match.raise_for_status()
                client.post("/api/v1/votes", json={"token": match.json()["token"], "winner": winner})


def _seed(session: Any, store: Any, study: str, images: dict[str, list[str]], size: int = 256) -> None:
    """A study whose models each have one image per listed prompt (``images``: model -> prompts)."""
    from PIL import Image, ImageDraw

    from imagearena.storage import catalog, studies

    row = studies.get_or_create_study(session, study, title=study.replace("-", " ").capitalize())
    for i, (model_name, prompts) in enumerate(images.items()):
        model = catalog.get_or_create_model(session, model_name)
        for j, text in enumerate(prompts):
            picture = Image.new("RGB", (size, size), (60 + 50 * i % 190, 90 + 40 * j % 160, 160))
            ImageDraw.Draw(picture).ellipse(
                (size // 5, size // 5, 4 * size // 5, 4 * size // 5), fill=(250, 240, 200)
            )
            catalog.add_image(
                session, row, model, catalog.get_or_create_prompt(session, text), store.put_pil(picture)
            )
    session.commit()


@pytest.fixture(scope="session")
def seed() -> Callable[..., None]:
    """``seed(session, store, study, {model: [prompt, ...]})``: images for a ``make_server`` setup."""
    return _seed


@pytest.fixture(scope="module")
def make_server(tmp_path_factory) -> Iterator[Callable[[Callable[[Any, Any], None]], LiveServer]]:
    """Factory: ``make_server(setup)`` runs ``setup(session, media_store)`` on a new SQLite database,
    then serves it; every server stops at the end of the module."""
    from imagearena.arena.runtime import Arena
    from imagearena.media import MediaStore
    from imagearena.settings import Settings
    from imagearena.storage.engine import make_sessionmaker, open_database

    started: list[tuple[LiveServer, Any]] = []

    def make(setup: Callable[[Any, Any], None]) -> LiveServer:
        data = tmp_path_factory.mktemp("live")
        settings = Settings(data_dir=data, db_url=f"sqlite:///{data / 'arena.db'}")
        engine = open_database(settings.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                setup(session, MediaStore(settings.media_dir))
        finally:
            engine.dispose()
        arena = Arena(settings)
        server = LiveServer(arena).__enter__()
        started.append((server, arena))
        return server

    yield make
    for server, arena in reversed(started):
        server.__exit__(None, None, None)
        arena.close()


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[Any], LiveServer]]:
    """Factory: ``serve(arena)`` serves an Arena the test built; each server stops at the end of the
    module (the test closes its Arena)."""
    started: list[LiveServer] = []

    def start(arena: Any) -> LiveServer:
        started.append(LiveServer(arena).__enter__())
        return started[-1]

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)
