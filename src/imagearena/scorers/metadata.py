"""Recording a score with the image: a PNG text chunk, or a JSON sidecar for other formats.

PNG files are rewritten chunk by chunk: the image data chunks are copied byte for byte and only an
``iTXt`` chunk (keyword ``imagearena``) is replaced or added, so pixels can never change. Formats
without a simple text chunk (JPEG, WebP...) get ``<file>.imagearena.json`` next to them instead.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from imagearena.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"imagearena"
SIDECAR_SUFFIX = ".imagearena.json"


def score_record(
    scorer: str, prompt: str, score: float | None, components: Mapping[str, float]
) -> dict[str, Any]:
    return {"scorer": scorer, "prompt": prompt, "score": score, "components": dict(components)}


def write_score(
    path: Path, scorer: str, prompt: str, score: float | None, components: Mapping[str, float]
) -> Path:
    """Store the record in the PNG itself or in a sidecar; returns the file written."""
    record = json.dumps(score_record(scorer, prompt, score, components), ensure_ascii=False)
    path = Path(path)
    with path.open("rb") as fh:
        is_png = fh.read(8) == PNG_SIGNATURE
    if is_png:
        _atomic_write(path, set_png_text(path.read_bytes(), record))
        return path
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    _atomic_write(sidecar, (record + "\n").encode("utf-8"))
    return sidecar


def read_score(path: Path) -> dict[str, Any] | None:
    """The record written by ``write_score``, or None."""
    path = Path(path)
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        return _record(sidecar.read_text(encoding="utf-8"))
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        return None
    for ctype, body in _chunks(data):
        if ctype == b"iTXt" and body.split(b"\0", 1)[0] == KEYWORD:
            return _record(_itxt_text(body))
    return None


def _record(text: str) -> dict[str, Any] | None:
    record = json.loads(text)
    return record if isinstance(record, dict) else None


def set_png_text(data: bytes, text: str) -> bytes:
    """PNG bytes with our iTXt chunk set to ``text``; every other chunk copied unchanged."""
    if not data.startswith(PNG_SIGNATURE):
        raise InputError("not a PNG file")
    out = [PNG_SIGNATURE]
    body = KEYWORD + b"\0\0\0" + b"\0" + b"\0" + text.encode("utf-8")  # no compression, no language
    wrote = False
    for ctype, chunk_body in _chunks(data):
        if ctype in (b"iTXt", b"tEXt", b"zTXt") and chunk_body.split(b"\0", 1)[0] == KEYWORD:
            continue  # the old record
        if ctype == b"IEND":
            out.append(_chunk(b"iTXt", body))
            wrote = True
        out.append(_chunk(ctype, chunk_body))
    if not wrote:
        raise InputError("truncated PNG: no IEND chunk")
    return b"".join(out)


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise InputError("truncated PNG chunk")
        yield ctype, body
        pos += 12 + length
        if ctype == b"IEND":
            return


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)
    )


def _itxt_text(body: bytes) -> str:
    _, rest = body.split(b"\0", 1)
    compressed, rest = rest[0], rest[2:]
    _lang, rest = rest.split(b"\0", 1)
    _translated, text = rest.split(b"\0", 1)
    return (zlib.decompress(text) if compressed else text).decode("utf-8")


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
