"""What the live-round tests share: a generators file of procedural entries (and one openai entry
against a stub server), and counts of what a round left behind."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select
from stub_server import StubServer

if TYPE_CHECKING:
    from imagearena.settings import Settings

KEY = "sk-live-test-0123456789abcdef"
STYLES = ("crisp", "painterly", "blurry", "glitchy")


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (16, 16), colour).save(out, "PNG")
    return out.getvalue()


def write_generators(path: Path, *, stub_url: str | None = None, timeout_s: float = 5) -> None:
    lines = []
    for style in STYLES:
        lines += [
            f"[generators.proc-{style}]",
            'backend = "procedural"',
            'size = "32x32"',
            f'style = "{style}"',
            "",
        ]
    if stub_url:
        lines += [
            "[generators.remote]",
            'backend = "openai"',
            'model = "stub-image-1"',
            f'base_url = "{stub_url}/v1"',
            'api_key_env = "LIVE_TEST_KEY"',
            f"timeout_s = {timeout_s}",
            "max_retries = 0",
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def live_stub(monkeypatch: pytest.MonkeyPatch, seeded: Settings) -> Iterator[StubServer]:
    """The live tests' ``stub`` fixture (``stub = pytest.fixture(live_stub, name="stub")``): a stub
    OpenAI server, its key in the environment, named ``remote`` (timeout 1 s) beside the procedural
    entries in the seeded study's generators file."""
    monkeypatch.setenv("LIVE_TEST_KEY", KEY)
    with StubServer() as server:
        write_generators(seeded.generators_path, stub_url=server.url, timeout_s=1)
        yield server


def counts(arena) -> dict[str, int]:
    from imagearena.storage.models import Image, Match

    with arena.read_session() as session:
        return {
            "images": session.scalar(select(func.count(Image.id))) or 0,
            "matches": session.scalar(select(func.count(Match.id))) or 0,
        }


def media_files(arena) -> set[Path]:
    root = Path(arena.settings.media_dir)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()
