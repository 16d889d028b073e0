"""Small image folders for the folder ranker's tests: real files, made here, a few bytes each."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, PngImagePlugin


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (8, 6), colour: tuple[int, int, int] = (200, 30, 30), **kw
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_with_text(text: dict[str, str], size: tuple[int, int] = (8, 6)) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    return image_bytes("PNG", size, pnginfo=info)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG that claims a huge size: the decompression-bomb shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


def noisy_bytes(fmt: str, size: tuple[int, int] = (64, 64)) -> bytes:
    """An incompressible image, so that cutting its bytes cuts its pixels."""
    buf = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buf, format=fmt)
    return buf.getvalue()


def make_folder(root: Path, count: int, *, fmt: str = "PNG", subfolders: int = 0) -> list[str]:
    """``count`` distinct small images under ``root`` (spread over ``subfolders`` subfolders when > 0);
    returns their relative names, sorted."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    ext = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}[fmt]
    for i in range(count):
        folder = f"set{i % subfolders:02d}/" if subfolders else ""
        name = f"{folder}img{i:05d}.{ext}"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(fmt, colour=(i % 256, (i // 256) % 256, 99)))
        names.append(name)
    return sorted(names)


def write_prompts(path: Path, rows: Iterable[tuple[str, str]], *, then: str = "") -> None:
    """A JSON Lines prompts file: one ``{"file": name, "prompt": text}`` a line for each (name, text),
    then the text ``then`` as it is (a bad line, say)."""
    lines = "".join(json.dumps({"file": name, "prompt": text}) + "\n" for name, text in rows)
    path.write_text(lines + then, encoding="utf-8")
