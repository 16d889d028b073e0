"""Fixtures of the generator tests: a running stub HTTP server, and a small PNG to serve."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image
from stub_server import StubServer


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture(scope="session")
def png() -> bytes:
    """An 8 x 8 PNG, the image every stub service sends."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()
