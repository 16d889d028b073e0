"""The folder ranker's routes: its page, its images and thumbnails by name, its rankings.

A folder's files are reached only through :func:`imagearena.folders.paths.resolve_inside` (by way of
:mod:`imagearena.arena.folder`): a name with ``..``, an encoded or doubled-encoded separator, a
backslash, an absolute path, or one that leads through a symlink out of the folder or to anything but
a regular file is answered 404 like a name that does not exist. These routes name images, so the page
uses them only for results (after the vote); the images of a round are served under the match's
sealed names (web.media), as in any study, and stay anonymous until the vote.

The page, ``GET /rank/{study}``, renders ``ranker.html`` with this context (besides the base page's):

- ``study``: the study name; ``round_type``: a ``types.RoundType``, what rounds the page asks;
- ``folder``: the folder's name (not its full path);
- ``progress``: ``{"images", "missing", "decisions", "unseen"[, "confidence"]}`` (images present, files
  gone since they were added, decisions made in the current epoch, images present that no decision
  showed yet, and from two images on the ranking's confidence in [0, 1],
  :func:`imagearena.arena.folder.ranking_confidence`);
- ``skipped``: the files the folder's last scan by this server left out (``folders.scan.Skipped``:
  ``name``, ``reason``, ``message``), empty when none were or this server did not scan it;
- ``urls``: ``{"match": POST next round, "vote": POST a decision, "undo": POST an undo, "rankings_csv",
  "rankings_json", "skipped": the files left out at start (JSON), "log_csv", "log_jsonl", "image":
  prefix of an image by name, "thumb": prefix of a thumbnail by name}``; names are appended percent-encoded per path segment.

The page drives rounds through the JSON API (matches, votes, undo), as a script can.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from imagearena.arena import folder as ranker
from imagearena.types import RoundType
from imagearena.web.api import errors
from imagearena.web.deps import get_arena

router = APIRouter()

RANKER = "/rank/"


def ranker_path(study: str) -> str:
    """The ranker page of a folder study."""
    return RANKER + quote(study, safe="")


def name_url(prefix: str, name: str) -> str:
    """``prefix`` + the image name, each path segment percent-encoded (so ``%`` and ``#`` survive)."""
    return prefix + "/".join(quote(part, safe="") for part in name.split("/"))


def ranker_context(request: Request, study: str) -> dict[str, Any]:
    """What ``ranker.html`` is rendered with (see the module docstring)."""
    from pathlib import Path

    arena = get_arena(request)
    state = ranker.folder_state(arena, study)
    base = ranker_path(state.study)
    api = f"/api/v1/studies/{quote(state.study, safe='')}"
    return {
        "study": state.study,
        "round_type": state.round_type,
        "folder": Path(state.source).name,
        "progress": {
            "images": state.images,
            "missing": state.missing,
            "decisions": state.decisions,
            "unseen": state.unseen,
            **({} if state.confidence is None else {"confidence": state.confidence}),
        },
        "skipped": ranker.skipped_files(arena, state.study) or [],
        "urls": {
            "match": f"{api}/matches",
            "vote": "/api/v1/votes",
            "undo": "/api/v1/undo",
            "rankings_csv": f"{base}/rankings.csv",
            "rankings_json": f"/api/v1/folders/{quote(state.study, safe='')}/rankings",
            "skipped": f"/api/v1/folders/{quote(state.study, safe='')}/skipped",
            "log_csv": f"{api}/votes.csv",
            "log_jsonl": f"{api}/votes.jsonl",
            "image": f"{base}/image/",
            "thumb": f"{base}/thumb/",
        },
    }


#: Seconds between two reloads of the loading page.
LOADING_REFRESH_S = 1


@router.get(RANKER + "{study}", response_class=HTMLResponse, include_in_schema=False)
def ranker_page(study: str, request: Request) -> HTMLResponse:
    """The ranker; while the folder is still being read, ``ranker_loading.html`` (``study``, ``folder``,
    ``examined``, ``error``), which reloads itself until the folder is read."""
    from pathlib import Path

    from imagearena.web.pages import render

    loading = ranker.loading_state(get_arena(request), study)
    if loading is None:
        return render(request, "ranker.html", ranker_context(request, study))
    state = ranker.folder_state(get_arena(request), study)
    context = {
        "study": state.study,
        "folder": Path(state.source).name,
        "examined": loading.examined,
        "error": loading.error,
    }
    response = render(request, "ranker_loading.html", context)
    if loading.error is None:
        response.headers["Refresh"] = str(LOADING_REFRESH_S)
    return response


@router.get(RANKER + "{study}/image/{name:path}", include_in_schema=False)
def folder_image(study: str, name: str, request: Request) -> FileResponse:
    """An image of the folder, by its path inside it."""
    from imagearena.media import media_type

    path = ranker.image_path(get_arena(request), study, name)
    return FileResponse(
        path, media_type=media_type(path.suffix.lstrip(".")), headers={"Cache-Control": "no-cache"}
    )


@router.get(RANKER + "{study}/thumb/{name:path}", include_in_schema=False)
def folder_thumbnail(study: str, name: str, request: Request) -> FileResponse:
    """A thumbnail of an image of the folder, made on first request and cached outside the folder."""
    from imagearena.folders.thumbs import ThumbnailCache

    path = ranker.thumbnail_path(get_arena(request), study, name)
    return FileResponse(path, media_type=ThumbnailCache.media_type, headers={"Cache-Control": "no-cache"})


@router.get(RANKER + "{study}/rankings.csv", include_in_schema=False)
def rankings_download(study: str, request: Request) -> StreamingResponse:
    chunks = list(ranker.rankings_csv(get_arena(request), study))  # errors before the answer starts
    return StreamingResponse(
        iter(chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{study}-rankings.csv"'},
    )


class FolderOut(BaseModel):
    study: str
    round_type: RoundType
    folder: str = Field(description="The folder's name (its last path part).")
    images: int = Field(description="Images present in the folder.")
    missing: int = Field(description="Images gone from the folder since they were added.")
    decisions: int
    unseen: int = Field(description="Images present that no decision has shown yet.")
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="How sure the current ranking is: the mean, over neighbouring images in the TrueSkill "
        "ranking, of the probability that the pair is in the right order, "
        "Phi((mu_i - mu_j) / sqrt(2 beta^2 + sigma_i^2 + sigma_j^2)). 0.5 is a coin flip (no decisions "
        "yet), 1 is certain. Null below two images.",
    )
    loading: bool = Field(
        default=False, description="The folder is still being read at start: rounds come when it is done."
    )
    examined: int | None = Field(default=None, description="While loading: files examined so far.")
    error: str | None = Field(default=None, description="Why reading the folder failed, if it did.")


class RankingOut(BaseModel):
    image: str = Field(description="The image's path inside the folder.")
    rank: int
    mu: float
    sigma: float
    conservative: float = Field(description="mu - 3 sigma: what rank follows.")
    bt_rating: float | None
    bt_lower: float | None
    bt_upper: float | None
    wins: int
    losses: int
    ties: int
    comparisons: int = Field(description="Decisions the image was shown in.")


class RankingsOut(BaseModel):
    study: str
    images: list[RankingOut]


_READ = errors(
    400,
    404,
    meanings={400: "The study is not a folder ranking, or the URL holds text no database can store."},
)


@router.get("/api/v1/folders/{study}", response_model=FolderOut, responses=_READ)
def folder_out(study: str, request: Request) -> dict[str, Any]:
    """Where a folder ranking stands."""
    from pathlib import Path

    state = ranker.folder_state(get_arena(request), study)
    return {
        "study": state.study,
        "round_type": state.round_type,
        "folder": Path(state.source).name,
        "images": state.images,
        "missing": state.missing,
        "decisions": state.decisions,
        "unseen": state.unseen,
        "confidence": state.confidence,
        **_loading_fields(request, state.study),
    }


def _loading_fields(request: Request, study: str) -> dict[str, Any]:
    loading = ranker.loading_state(get_arena(request), study)
    if loading is None:
        return {"loading": False}
    return {"loading": loading.error is None, "examined": loading.examined, "error": loading.error}


@router.get("/api/v1/folders/{study}/rankings", response_model=RankingsOut, responses=_READ)
def rankings_out(study: str, request: Request) -> dict[str, Any]:
    """The folder's images, best first (the rankings CSV as JSON)."""
    from dataclasses import asdict

    lines = ranker.ranking_lines(get_arena(request), study)
    return {"study": study, "images": [asdict(line) for line in lines]}


class SkippedOut(BaseModel):
    name: str = Field(description="The file's path inside the folder.")
    reason: str = Field(
        description="corrupt, oversized, too-many-pixels, not-an-image, special-file, outside, unreadable "
        "or bad-name."
    )
    message: str


class SkippedFilesOut(BaseModel):
    study: str
    scanned: bool = Field(description="Whether this server scanned the folder (it lists what it skipped).")
    files: list[SkippedOut]


@router.get("/api/v1/folders/{study}/skipped", response_model=SkippedFilesOut, responses=_READ)
def skipped_out(study: str, request: Request) -> dict[str, Any]:
    """The files of the folder the ranker left out at start, with the reason."""
    arena = get_arena(request)
    state = ranker.folder_state(arena, study)
    skipped = ranker.skipped_files(arena, state.study)
    return {
        "study": state.study,
        "scanned": skipped is not None,
        "files": [{"name": s.name, "reason": s.reason, "message": s.message} for s in skipped or []],
    }
