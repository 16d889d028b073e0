"""Serve stored images: by content address (history, leaderboards: shown after the reveal), and under
the sealed per-match names a match is served with (before the vote).

A content address names the bytes, so it is the same in every match that shows the image: a voter who
saw a few reveals could name the models of the next match from its URLs. Match images therefore get a
fresh sealed name per match (arena.tokens.TokenSigner.image_name) that expires with the match token,
and are answered without the file's validators (ETag, Last-Modified), which would be stable too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from imagearena.arena.runtime import Arena
from imagearena.errors import UnknownNameError
from imagearena.media import EXTENSIONS, FORMATS
from imagearena.web.deps import get_arena

router = APIRouter(include_in_schema=False)

# Content-addressed: the bytes behind a URL never change.
_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"}
MATCH_MEDIA = "/media/match/"


_EXT = {**{fmt: ext for fmt, (ext, _) in FORMATS.items()}, **{ext: ext for ext in EXTENSIONS}}


def image_url(sha256: str, format: str) -> str:
    """``/media/<sha256>.<ext>``: the URL names the bytes, so browsers may cache it forever."""
    return f"/media/{sha256}.{_EXT.get(format) or _EXT.get(format.upper()) or format.lower()}"


def match_image_url(name: str) -> str:
    """The URL of a match image under its sealed name (arena.matches.ServedMatch.left_name)."""
    return MATCH_MEDIA + name


@router.get("/media/{name}")
def media_file(name: str, request: Request) -> FileResponse:
    from imagearena.media import media_type

    sha256, _, ext = name.partition(".")
    arena = get_arena(request)
    path = arena.media_store.path(sha256, ext or "png")
    if not path.is_file():
        path = _folder_file(arena, sha256, f"no stored image {name!r}")
    return FileResponse(path, media_type=media_type(ext), headers=_CACHE)


@router.get(MATCH_MEDIA + "{name}")
def match_media_file(name: str, request: Request) -> FileResponse:
    """A match image; 404 once its match token has expired, or for a name this server did not seal."""
    from imagearena.media import media_type

    arena = get_arena(request)
    sha256, format, issued_at = arena.signer.open_image_name(name)
    path = arena.media_store.path(sha256, format)
    if not path.is_file():
        path = _folder_file(arena, sha256, "this match image is no longer stored: request a new match")
    left_s = max(0, int(issued_at + arena.signer.max_age_s - time.time()))
    response = FileResponse(
        path,
        media_type=media_type(format),
        headers={"Cache-Control": f"private, max-age={left_s}"},
        stat_result=os.stat(path),
    )
    for validator in ("etag", "last-modified"):
        del response.headers[validator]
    return response


def _folder_file(arena: Arena, sha256: str, missing: str) -> Path:
    """A folder study's image (kept in its folder, not in the media store, and named by a fingerprint),
    through the folder's safe resolver; UnknownNameError with ``missing`` when there is none."""
    from imagearena.arena.folder import locate_by_fingerprint
    from imagearena.errors import ImageArenaError

    try:
        return locate_by_fingerprint(arena, sha256)
    except ImageArenaError:
        raise UnknownNameError(missing) from None
