"""The JSON API under /api/v1. Handlers only translate HTTP to the arena use cases and back.

The two hot endpoints (next match, vote) build their JSON by hand and skip response validation;
their response models still document them in /openapi.json.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from imagearena.arena import export, leaderboards, studies
from imagearena.arena.matches import ServedMatch, serve_match
from imagearena.arena.ratelimit import RateLimitedError
from imagearena.arena.runtime import Arena
from imagearena.arena.tokens import check_admin
from imagearena.arena.votes import RecordedVote, record_vote_async
from imagearena.errors import ForbiddenError, ImageArenaError, InputError
from imagearena.text import check_text
from imagearena.types import Outcome, RatingMethod, StudyKind
from imagearena.web.deps import AdminFirstRoute, admin_token_of, get_arena, require_admin
from imagearena.web.media import image_url, match_image_url

router = APIRouter(prefix="/api/v1", tags=["arena"], route_class=AdminFirstRoute)

# The enums themselves: the same OpenAPI enum as a Literal, and a 400 naming the allowed values.
Winner = Outcome
Method = RatingMethod


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
}


def errors(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses=`` for the error answers a route gives, all in the shared error shape.
    Every route may answer 400 (a URL no database can store), every write 403 and 413."""
    return {status: {"model": ErrorOut, "description": _ERROR_MEANINGS[status]} for status in statuses}


READ = errors(400)
READ_STUDY = errors(400, 404)
ADMIN_WRITE_STUDY = errors(400, 403, 404, 413)


class ImageRef(BaseModel):
    image_url: str = Field(
        description="In a match: a name for this match only, valid as long as its token. "
        "Elsewhere (history): the image's content address."
    )


class MatchOut(BaseModel):
    study: str
    token: str = Field(description="Sealed one-time token: send it back with the vote.")
    prompt: str
    left: ImageRef
    right: ImageRef


class VoteIn(BaseModel):
    token: str
    winner: Winner = Field(description="model_a is the left image, model_b the right one.")
    voter: str | None = Field(default=None, max_length=100, description="Optional anonymous voter id.")


MAX_VOTE_BODY = 8192
_VOTE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": VoteIn.model_json_schema()}},
    }
}
_LIMITED = {429: {"description": "Too many requests from this client: wait Retry-After seconds."}}


def parse_vote(raw: bytes) -> VoteIn:
    """The vote in a request body, checked by VoteIn; InputError (400) says what is wrong. The hot path
    uses it too. pydantic's own JSON parser bounds nesting (a deep body is a 400, not a RecursionError)."""
    if len(raw) > MAX_VOTE_BODY:
        raise InputError(f"invalid request: body over {MAX_VOTE_BODY} bytes")
    try:
        return VoteIn.model_validate_json(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err['msg']}" if where else err["msg"])
        raise InputError("invalid request: " + "; ".join(problems)) from None


def match_json(m: ServedMatch) -> dict:
    return {
        "study": m.study,
        "token": m.token,
        "prompt": m.prompt,
        "left": {"image_url": match_image_url(m.left_name)},
        "right": {"image_url": match_image_url(m.right_name)},
    }


def vote_json(v: RecordedVote) -> dict:
    return {"vote_id": v.vote_id, "study": v.study, "winner": v.winner, "model_a": v.model_a, "model_b": v.model_b}


def error_json(exc: ImageArenaError) -> tuple[int, dict, dict[str, str]]:
    """Status, body and headers of a user error on the two hot routes (a 429 says when to retry)."""
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimitedError) else {}
    return exc.http_status, {"error": {"type": type(exc).__name__, "message": str(exc)}}, headers


def limit_client(arena: Arena, request: Request, kind: str, voter: str | None = None) -> None:
    """RateLimitedError (429) when this client is over its limit of ``kind`` requests; admins are not
    limited. Matches are counted per client address, votes per address and voter id."""
    if not arena.rate_limiter.enabled:
        return
    address = request.client.host if request.client else ""
    try:
        arena.rate_limiter.check(f"{kind}\0{address}\0{voter or ''}")
    except RateLimitedError:
        if not _is_admin(arena, request):
            raise


def _is_admin(arena: Arena, request: Request) -> bool:
    try:
        check_admin(admin_token_of(request), arena.admin_token)
    except ForbiddenError:
        return False
    return True


class VoteOut(BaseModel):
    vote_id: int
    study: str
    winner: Winner
    model_a: str
    model_b: str


class StudyOut(BaseModel):
    name: str
    kind: str
    title: str
    description: str
    epoch: int
    created_at: str
    models: int
    prompts: int
    images: int
    votes: int
    archived_votes: int


class StudiesOut(BaseModel):
    studies: list[StudyOut]


class StudyIn(BaseModel):
    name: str
    title: str = ""
    description: str = ""
    kind: StudyKind = StudyKind.LIVE


class ModelOut(BaseModel):
    name: str
    images: int


class StudyDetailOut(BaseModel):
    study: StudyOut
    models: list[ModelOut]
    prompts: list[str]


class ResetOut(BaseModel):
    study: str
    epoch: int


class RowOut(BaseModel):
    model: str
    rating: float
    lower: float | None
    upper: float | None
    votes: int
    wins: int
    losses: int
    ties: int
    rank: int
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


class HistoryItemOut(BaseModel):
    id: int
    model_a: str
    model_b: str
    winner: Winner
    tstamp: str
    judge: str
    prompt: str | None
    left: ImageRef | None
    right: ImageRef | None


class HistoryOut(BaseModel):
    study: str
    votes: list[HistoryItemOut]


class ImportIn(BaseModel):
    folder: str = Field(description="A folder on the server: FOLDER/<model>/<image files>.")


# --- hot path ---------------------------------------------------------------------------------------


def _error_response(exc: ImageArenaError) -> JSONResponse:
    status, body, headers = error_json(exc)
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/studies/{study}/matches", response_model=MatchOut, responses=_LIMITED)
async def next_match(study: str, request: Request):
    """Serve a match: the prompt and two images of two different models, no model names."""
    arena = get_arena(request)
    try:
        limit_client(arena, request, "match")
        return JSONResponse(match_json(serve_match(arena, study)))
    except ImageArenaError as exc:
        return _error_response(exc)


@router.post(
    "/votes",
    response_model=VoteOut,
    status_code=201,
    openapi_extra=_VOTE_BODY,
    responses={
        400: {"description": "Malformed or expired token, an unknown winner, or a malformed body."},
        403: {"description": "A token this server (for this database) did not seal."},
        409: {"description": "The match was already voted on."},
        **_LIMITED,
        503: {"description": "The database is busy and nothing was stored: vote again with the same token."},
    },
)
async def vote(request: Request):
    """Record a vote (a VoteIn body) and reveal the two models."""
    arena = get_arena(request)
    try:
        body = parse_vote(await _read_body(request))
        limit_client(arena, request, "vote", body.voter)
        v = await record_vote_async(arena, body.token, body.winner, voter=body.voter or "")
    except ImageArenaError as exc:
        return _error_response(exc)
    return JSONResponse(vote_json(v), status_code=201)


async def _read_body(request: Request) -> bytes:
    """The request body, read no further than a vote may be long."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_VOTE_BODY:
            raise InputError(f"invalid request: body over {MAX_VOTE_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- studies ----------------------------------------------------------------------------------------


def _study_out(s: studies.StudySummary) -> dict:
    return {
        "name": s.name,
        "kind": s.kind,
        "title": s.title,
        "description": s.description,
        "epoch": s.epoch,
        "created_at": s.created_at.isoformat(),
        "models": s.models,
        "prompts": s.prompts,
        "images": s.images,
        "votes": s.votes,
        "archived_votes": s.archived_votes,
    }


@router.get("/studies", response_model=StudiesOut, responses=READ)
def list_studies(request: Request):
    return {"studies": [_study_out(s) for s in studies.list_studies(get_arena(request))]}


@router.post(
    "/studies",
    response_model=StudyOut,
    status_code=201,
    dependencies=[Depends(require_admin)],
    responses=errors(400, 403, 409, 413),
)
def create_study(body: StudyIn, request: Request):
    """Create an empty study (admin token required)."""
    summary = studies.create_study(
        get_arena(request), body.name, kind=body.kind, title=body.title, description=body.description
    )
    return _study_out(summary)


@router.get("/studies/{study}", response_model=StudyDetailOut, responses=READ_STUDY)
def study_detail(study: str, request: Request):
    d = studies.study_detail(get_arena(request), study)
    return {
        "study": _study_out(d.summary),
        "models": [{"name": n, "images": c} for n, c in d.models],
        "prompts": d.prompts,
    }


@router.post(
    "/studies/{study}/reset",
    response_model=ResetOut,
    dependencies=[Depends(require_admin)],
    responses=ADMIN_WRITE_STUDY,
)
def reset_study(study: str, request: Request):
    """Start a new epoch: leaderboards start over, earlier votes are archived, never deleted."""
    return {"study": study, "epoch": studies.reset_study(get_arena(request), study)}


@router.post("/studies/{study}/import", dependencies=[Depends(require_admin)], responses=ADMIN_WRITE_STUDY)
def import_folder(study: str, body: ImportIn, request: Request):
    """Import FOLDER/<model>/<images> from the server's disk into the study (admin token required)."""
    folder = check_text(body.folder, "folder")
    return studies.import_folder(get_arena(request), study, folder)


# --- leaderboards and history -----------------------------------------------------------------------


@router.get("/studies/{study}/leaderboard", response_model=LeaderboardOut, responses=READ_STUDY)
def leaderboard(
    study: str,
    request: Request,
    method: Method = RatingMethod.ELO,
    since: str | None = Query(
        default=None, description="ISO 8601 time or Unix seconds; votes at or after it."
    ),
    until: str | None = Query(default=None, description="ISO 8601 time or Unix seconds; votes before it."),
):
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
def win_rates(study: str, request: Request, since: str | None = None, until: str | None = None):
    """Win-rate matrix: row model's share of wins against the column model (ties count half)."""
    w = leaderboards.win_rates(
        get_arena(request),
        study,
        leaderboards.parse_time(since, "since"),
        leaderboards.parse_time(until, "until"),
    )
    return {"models": w.models, "win_rate": w.win_rate, "battles": w.battles}


@router.get("/studies/{study}/ratings", response_model=RatingHistoryOut, responses=READ_STUDY)
def rating_history(study: str, request: Request, method: Method = RatingMethod.ELO):
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
def history(study: str, request: Request, limit: int = Query(default=50, ge=1, le=1000)):
    """Recent votes, newest first, with the two images that were shown."""
    items = studies.recent_votes(get_arena(request), study, limit)
    return {
        "study": study,
        "votes": [
            {
                "id": h.id,
                "model_a": h.model_a,
                "model_b": h.model_b,
                "winner": h.winner,
                "tstamp": h.tstamp.isoformat(),
                "judge": h.judge,
                "prompt": h.prompt,
                "left": {"image_url": image_url(h.left_sha256, h.left_format)} if h.left_sha256 else None,
                "right": {"image_url": image_url(h.right_sha256, h.right_format)} if h.right_sha256 else None,
            }
            for h in items
        ],
    }


# --- exports ----------------------------------------------------------------------------------------


def _download(study: str, ext: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{study}-votes.{ext}"'}


@router.get("/studies/{study}/votes.jsonl", response_class=StreamingResponse, responses=READ_STUDY)
def votes_jsonl(study: str, request: Request, archived: bool = False):
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
def votes_csv(study: str, request: Request, archived: bool = False):
    """The same battle log as CSV with a header row."""
    arena = get_arena(request)
    export.check_exists(arena, study)
    return StreamingResponse(
        export.votes_csv(arena, study, archived),
        media_type="text/csv; charset=utf-8",
        headers=_download(study, "csv"),
    )
