"""The JSON API under /api/v1. Handlers only translate HTTP to the arena use cases and back.

The two hot endpoints (next match, vote) answer through web.voting, which the plain-ASGI front
(web.hotpath) shares, and skip response validation; their response models still document them in
/openapi.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, PlainSerializer

from imagearena.arena import export, leaderboards, studies
from imagearena.arena.undo import undo_decision
from imagearena.text import check_text
from imagearena.types import Outcome, RatingMethod, RatingRow, RoundType, StudyKind
from imagearena.web.deps import AdminFirstRoute, get_arena, require_admin
from imagearena.web.media import image_url
from imagearena.web.voting import (
    UndoIn,
    VoteIn,
    answer_match,
    answer_vote,
    json_response,
    limit_client,
    undo_json,
)

router = APIRouter(prefix="/api/v1", tags=["arena"], route_class=AdminFirstRoute)

# The enums themselves: the same OpenAPI enum as a Literal, and a 400 naming the allowed values.
Winner = Outcome

# A rating method is any name in the ratings.methods registry, so not an enum: the built-ins are its
# examples, and an unknown name is a 400 that lists the registered ones.
_METHOD_DOC = (
    f"A rating method: {', '.join(RatingMethod)} (built in), or one a package registers "
    "(entry point group imagearena.rating_methods)."
)
Method = Annotated[str, Field(description=_METHOD_DOC, examples=[m.value for m in RatingMethod])]
MethodParam = Annotated[str, Query(description=_METHOD_DOC, examples=[m.value for m in RatingMethod])]

# A stored time in an answer: the text datetime.isoformat() writes (UTC as "+00:00").
IsoTime = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


# --- schemas ----------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str = Field(description="The error class, e.g. InputError, ForbiddenError, ConflictError.")
    message: str = Field(description="What went wrong and what to do about it.")


class ErrorOut(BaseModel):
    error: ErrorDetail


_ERROR_MEANINGS = {
    400: "Invalid input: a malformed body, parameter or URL (the message names the field).",
    403: "Missing or wrong admin token, or a request sent from another site's page.",
    404: "No study (or other name) by that name.",
    409: "Conflicts with recorded state, such as a study name that is taken.",
    413: "The request body is over the server's limit (IMAGEARENA_MAX_BODY_BYTES).",
    429: "Too many requests from this client (IMAGEARENA_RATE_LIMIT_PER_MINUTE): wait Retry-After seconds.",
    503: "The database is busy and nothing was stored: send the same request again.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before this client's next request is accepted.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def errors(*statuses: int, meanings: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error answers a route gives, all in the shared error shape;
    ``meanings`` says what a status means on this route. Every route may answer 400 (a URL no database
    can store), every write 403 and 413."""
    said = {**_ERROR_MEANINGS, **(meanings or {})}
    answers: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorOut, "description": said[status]} for status in statuses
    }
    if 429 in answers:
        answers[429]["headers"] = _RETRY_AFTER
    return answers


READ = errors(400)
READ_STUDY = errors(400, 404)
ADMIN_WRITE_STUDY = errors(400, 403, 404, 413)
MATCH_ERRORS = errors(
    400,
    403,
    404,
    409,
    413,
    429,
    meanings={
        400: "The study has no prompt with images from two different models yet, or the URL holds "
        "text no database can store.",
        403: "Sent from another site's page.",
        409: "A four-image study has no prompt with images from four different models.",
    },
)
VOTE_ERRORS = errors(
    400,
    403,
    409,
    413,
    429,
    503,
    meanings={
        400: "A malformed or expired token, an unknown winner, ranks a round of this type does not "
        "take, winner for a four-image round or ranks for a pair, or a malformed body.",
        403: "A token this server (for this database) did not seal, or a vote sent from another site's page.",
        409: "The match was already voted on: request a new match.",
        503: "The database is busy and nothing was stored: vote again with the same token.",
    },
)


class ImageRef(BaseModel):
    image_url: str = Field(
        description="In a match: a name for this match only, valid as long as its token. "
        "Elsewhere (history): the image's content address."
    )


class MatchImageOut(ImageRef):
    prompt: str | None = Field(
        default=None,
        description="The prompt found for this image itself (a folder study's sidecar file, prompts "
        "file or PNG text), shown under it; absent where none is known.",
    )


class MatchOut(BaseModel):
    study: str
    token: str = Field(description="Sealed one-time token: send it back with the vote.")
    prompt: str
    round_type: RoundType
    images: list[MatchImageOut] = Field(description="In display order: 2 for a pair, 4 for best4 and order4.")
    left: MatchImageOut | None = Field(default=None, description="Pair rounds only: images[0].")
    right: MatchImageOut | None = Field(default=None, description="Pair rounds only: images[1].")


_VOTE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VoteIn"}}},
    }
}


def body_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of the bodies a route reads itself (the vote's VoteIn), which FastAPI
    does not collect from the route's signature."""
    schema = VoteIn.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "VoteIn": schema}


class VoteOut(BaseModel):
    vote_id: int = Field(description="The vote's id; for a four-image round, the round result's.")
    study: str
    round_type: RoundType
    models: list[str] = Field(description="The models revealed, in display order.")
    winner: Winner | None = Field(default=None, description="Pair rounds only.")
    model_a: str | None = Field(default=None, description="Pair rounds only: the left image's model.")
    model_b: str | None = Field(default=None, description="Pair rounds only: the right image's model.")
    ranks: list[int] | None = Field(default=None, description="Four-image rounds only, as stored.")


class UndoOut(BaseModel):
    undone: int = Field(description="The id of the decision withdrawn (a vote's, or a round result's).")
    study: str
    match: MatchOut = Field(description="The same images in the same order, under a fresh token.")


UNDO_ERRORS = errors(
    400,
    403,
    404,
    409,
    413,
    429,
    503,
    meanings={
        400: "A malformed or expired token, or a malformed body.",
        403: "A token this server (for this database) did not seal, or sent from another site's page.",
        404: "No decision was cast with this token.",
        409: "The decision was undone already.",
        503: "The database is busy and nothing was stored: send the same undo again.",
    },
)


@dataclass(frozen=True, slots=True)
class StudyOut(studies.StudySummary):
    """A study and its counts (arena.studies.StudySummary), without the database id."""

    id: Annotated[int, Field(exclude=True)]
    created_at: IsoTime


class StudiesOut(BaseModel):
    studies: list[StudyOut]


class StudyIn(BaseModel):
    name: str
    title: str = ""
    description: str = ""
    kind: StudyKind = StudyKind.LIVE
    round_type: RoundType = Field(
        default=RoundType.PAIR, description="What a round shows: a pair, or four images (best4, order4)."
    )


class ModelOut(BaseModel):
    name: str
    images: int


class StudyDetailOut(BaseModel):
    study: StudyOut
    models: list[ModelOut]
    prompts: list[str]
    prompt_set: str | None = None  # the stored prompt set attached to the study


class ResetOut(BaseModel):
    study: str
    epoch: int


@dataclass(frozen=True, slots=True)
class RowOut(RatingRow):
    """A leaderboard line (the same fields for every method) and the model's share of decisive votes won."""

    win_rate: float | None


class LeaderboardOut(BaseModel):
    study: str
    method: Method
    epoch: int
    votes: int
    since: str | None
    until: str | None
    rows: list[RowOut]


class WinRatesOut(BaseModel):
    models: list[str]
    win_rate: list[list[float | None]]
    battles: list[list[int]]


class PointOut(BaseModel):
    model: str
    rating: float
    lower: float | None
    upper: float | None
    votes: int
    at: str


class RatingHistoryOut(BaseModel):
    study: str
    method: Method
    points: list[PointOut]


@dataclass(frozen=True, slots=True)
class HistoryItemOut(studies.PublicVote):
    """A pair vote's public fields (storage.votes.PublicVote, as arena.studies.recent_votes gives them)
    and the two images that were shown."""

    winner: Winner
    tstamp: IsoTime
    left: ImageRef | None
    right: ImageRef | None
    round_type: Literal[RoundType.PAIR] = RoundType.PAIR


class HistoryRoundOut(BaseModel):
    """A four-image round's result (storage.votes.RoundHistoryItem) and the images that were shown."""

    id: int = Field(description="The round result's id (numbered apart from pair votes).")
    round_type: Literal[RoundType.BEST4, RoundType.ORDER4]
    models: list[str] = Field(description="The models, in display order.")
    ranks: list[int] = Field(
        description="Each image's rank in display order, 1 = best, equal ranks tie: best4 gives the pick 1 "
        "and the others 2, or all 1 for no clear best; order4 competition ranks such as [1, 2, 2, 4]."
    )
    prompt: str | None
    tstamp: IsoTime
    judge: str
    images: list[ImageRef | None] = Field(
        description="The images shown, in display order; null for one whose match is not stored."
    )


HistoryEntry = Annotated[HistoryItemOut | HistoryRoundOut, Field(discriminator="round_type")]


class HistoryOut(BaseModel):
    study: str
    votes: list[HistoryEntry] = Field(
        description="Decisions of the current round, newest first: pair votes and four-image round "
        "results (round_type tells which). Undone decisions are left out, as on the leaderboards."
    )


class ImportIn(BaseModel):
    folder: str = Field(description="A folder on the server: FOLDER/<model>/<image files>.")


# --- next match and vote (answered the same by the plain-ASGI front, web.hotpath) --------------------


@router.post("/studies/{study}/matches", response_model=MatchOut, responses=MATCH_ERRORS)
async def next_match(study: str, request: Request) -> JSONResponse:
    """Serve a match: the prompt and two images of two different models, no model names."""
    return json_response(answer_match(get_arena(request), request, study))


@router.post(
    "/votes", response_model=VoteOut, status_code=201, openapi_extra=_VOTE_BODY, responses=VOTE_ERRORS
)
async def vote(request: Request) -> JSONResponse:
    """Record a decision (a VoteIn body: winner for a pair, ranks for four images) and reveal the models."""
    return json_response(await answer_vote(get_arena(request), request))


@router.post(
    "/undo",
    response_model=UndoOut,
    response_model_exclude_none=True,  # a four-image match has no left and right
    status_code=201,
    responses=UNDO_ERRORS,
)
def undo(body: UndoIn, request: Request) -> dict[str, Any]:
    """Undo the decision cast with a token (an undo is appended; nothing is deleted) and serve the same
    images again under a fresh token."""
    arena = get_arena(request)
    limit_client(arena, request, "vote", body.voter)
    return undo_json(undo_decision(arena, body.token, voter=body.voter or ""))


# --- studies ----------------------------------------------------------------------------------------


def _study_out(s: studies.StudySummary) -> dict[str, Any]:
    return asdict(s)  # validated into a StudyOut, which leaves the id out


@router.get("/studies", response_model=StudiesOut, responses=READ)
def list_studies(request: Request) -> dict[str, Any]:
    return {"studies": [_study_out(s) for s in studies.list_studies(get_arena(request))]}


@router.post(
    "/studies",
    response_model=StudyOut,
    status_code=201,
    dependencies=[Depends(require_admin)],
    responses=errors(400, 403, 409, 413),
)
def create_study(body: StudyIn, request: Request) -> dict[str, Any]:
    """Create an empty study (admin token required)."""
    summary = studies.create_study(
        get_arena(request),
        body.name,
        kind=body.kind,
        title=body.title,
        description=body.description,
        round_type=body.round_type,
    )
    return _study_out(summary)


@router.get("/studies/{study}", response_model=StudyDetailOut, responses=READ_STUDY)
def study_detail(study: str, request: Request) -> dict[str, Any]:
    d = studies.study_detail(get_arena(request), study)
    return {
        "study": _study_out(d.summary),
        "models": [{"name": n, "images": c} for n, c in d.models],
        "prompts": d.prompts,
        "prompt_set": d.prompt_set,
    }


@router.post(
    "/studies/{study}/reset",
    response_model=ResetOut,
    dependencies=[Depends(require_admin)],
    responses=ADMIN_WRITE_STUDY,
)
def reset_study(study: str, request: Request) -> dict[str, Any]:
    """Start a new epoch: leaderboards start over, earlier votes are archived, never deleted."""
    return {"study": study, "epoch": studies.reset_study(get_arena(request), study)}


@router.post(
    "/studies/{study}/import",
    response_model=None,  # the import report, as `imagearena import-folder` prints it
    dependencies=[Depends(require_admin)],
    responses=ADMIN_WRITE_STUDY,
)
def import_folder(study: str, body: ImportIn, request: Request) -> dict[str, Any]:
    """Import FOLDER/<model>/<images> from the server's disk into the study (admin token required)."""
    folder = check_text(body.folder, "folder")
    return studies.import_folder(get_arena(request), study, folder)


# --- leaderboards and history -----------------------------------------------------------------------


@router.get("/studies/{study}/leaderboard", response_model=LeaderboardOut, responses=READ_STUDY)
def leaderboard(
    study: str,
    request: Request,
    method: MethodParam = RatingMethod.ELO,
    since: str | None = Query(
        default=None, description="ISO 8601 time or Unix seconds; votes at or after it."
    ),
    until: str | None = Query(default=None, description="ISO 8601 time or Unix seconds; votes before it."),
) -> dict[str, Any]:
    arena = get_arena(request)
    board = leaderboards.leaderboard(
        arena,
        study,
        method,
        since=leaderboards.parse_time(since, "since"),
        until=leaderboards.parse_time(until, "until"),
    )
    return {
        "study": board.study,
        "method": board.method,
        "epoch": board.epoch,
        "votes": board.votes,
        "since": board.since.isoformat() if board.since else None,
        "until": board.until.isoformat() if board.until else None,
        "rows": board.row_dicts(),
    }


@router.get("/studies/{study}/winrates", response_model=WinRatesOut, responses=READ_STUDY)
def win_rates(
    study: str, request: Request, since: str | None = None, until: str | None = None
) -> dict[str, Any]:
    """Win-rate matrix: row model's share of wins against the column model (ties count half)."""
    w = leaderboards.win_rates(
        get_arena(request),
        study,
        leaderboards.parse_time(since, "since"),
        leaderboards.parse_time(until, "until"),
    )
    return {"models": w.models, "win_rate": w.win_rate, "battles": w.battles}


@router.get("/studies/{study}/ratings", response_model=RatingHistoryOut, responses=READ_STUDY)
def rating_history(study: str, request: Request, method: MethodParam = RatingMethod.ELO) -> dict[str, Any]:
    """Rating over time: the study's rating snapshots for one method, oldest first."""
    points = leaderboards.rating_history(get_arena(request), study, method)
    return {
        "study": study,
        "method": method,
        "points": [
            {
                "model": p.model,
                "rating": p.rating,
                "lower": p.lower,
                "upper": p.upper,
                "votes": p.votes,
                "at": p.at.isoformat(),
            }
            for p in points
        ],
    }


@router.get("/studies/{study}/history", response_model=HistoryOut, responses=READ_STUDY)
def history(study: str, request: Request, limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
    """Recent decisions, newest first, with the images that were shown: pair votes and four-image round
    results."""
    items = studies.recent_votes(get_arena(request), study, limit)
    return {"study": study, "votes": [_history_entry(h) for h in items]}


def _history_entry(h: studies.HistoryItem | studies.RoundHistoryItem) -> dict[str, Any]:
    """A history item as a HistoryItemOut or HistoryRoundOut validates it (image addresses as ImageRefs)."""
    if isinstance(h, studies.RoundHistoryItem):
        return {
            "id": h.id,
            "round_type": h.round_type,
            "models": list(h.models),
            "ranks": list(h.ranks),
            "prompt": h.prompt,
            "tstamp": h.tstamp,
            "judge": h.judge,
            "images": [None if f is None else _image_ref(*f) for f in h.images],
        }
    return {
        **asdict(h),
        "round_type": RoundType.PAIR,
        "left": _image_ref(h.left_sha256, h.left_format),
        "right": _image_ref(h.right_sha256, h.right_format),
    }


def _image_ref(sha256: str | None, format: str | None) -> dict[str, str] | None:
    """An ImageRef by content address; None for a vote whose image is no longer stored."""
    return {"image_url": image_url(sha256, format)} if sha256 and format else None


# --- exports ----------------------------------------------------------------------------------------


def _download(study: str, ext: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{study}-votes.{ext}"'}


@router.get("/studies/{study}/votes.jsonl", response_class=StreamingResponse, responses=READ_STUDY)
def votes_jsonl(study: str, request: Request, archived: bool = False) -> StreamingResponse:
    """Battle log, one JSON object per line: model_a, model_b, winner, tstamp, judge (+ prompt, voter,
    epoch). ``archived=true`` includes votes from before the last reset."""
    arena = get_arena(request)
    export.check_exists(arena, study)
    return StreamingResponse(
        export.votes_jsonl(arena, study, archived),
        media_type="application/x-ndjson",
        headers=_download(study, "jsonl"),
    )


@router.get("/studies/{study}/votes.csv", response_class=StreamingResponse, responses=READ_STUDY)
def votes_csv(study: str, request: Request, archived: bool = False) -> StreamingResponse:
    """The same battle log as CSV with a header row."""
    arena = get_arena(request)
    export.check_exists(arena, study)
    return StreamingResponse(
        export.votes_csv(arena, study, archived),
        media_type="text/csv; charset=utf-8",
        headers=_download(study, "csv"),
    )
