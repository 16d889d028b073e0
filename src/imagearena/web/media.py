"""Serve stored images by content address. The URL names the bytes, never the model that made them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from imagearena.errors import UnknownNameError
from imagearena.media import EXTENSIONS, FORMATS

router = APIRouter(include_in_schema=False)

# Content-addressed: the bytes behind a URL never change.
_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}


_EXT = {**{fmt: ext for fmt, (ext, _) in FORMATS.items()}, **{ext: ext for ext in EXTENSIONS}}


def image_url(sha256: str, format: str) -> str:
    """``/media/<sha256>.<ext>``: the URL names the bytes, so browsers may cache it forever."""
    return f"/media/{sha256}.{_EXT.get(format) or _EXT.get(format.upper()) or format.lower()}"


@router.get("/media/{name}")
def media_file(name: str, request: Request):
    from imagearena.media import media_type

    sha256, _, ext = name.partition(".")
    arena = request.app.state.arena
    path = arena.media_store.path(sha256, ext or "png")
    if not path.is_file():
        raise UnknownNameError(f"no stored image {name!r}")
    return FileResponse(path, media_type=media_type(ext), headers=_CACHE)
