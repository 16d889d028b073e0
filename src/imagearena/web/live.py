"""Live studies over HTTP: start a live round, follow its progress until its match is ready, and the
admins' settings (JSON and the study page's form). The use cases are in arena.live.

A round is started with ``POST /api/v1/studies/{study}/live`` and followed with ``GET
/api/v1/live/{job}?seen=VERSION&wait=S``, which answers as soon as the job changed since ``VERSION``
(or after ``S`` seconds), so a page sees each image arrive without polling in a loop. Once every
image is ready the answer holds ``match``, the same object ``POST /api/v1/studies/{study}/matches``
answers, which is voted on with ``POST /api/v1/votes`` like any other.
"""

from __future__ import annotations

import time
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from imagearena.arena import live
from imagearena.errors import ImageArenaError, InputError
from imagearena.types import RoundType, StudyKind
from imagearena.web.api import MatchOut, errors
from imagearena.web.deps import AdminFirstRoute, get_arena, require_admin
from imagearena.web.errors import error_body
from imagearena.web.voting import limit_client, match_json

router = APIRouter(prefix="/api/v1", tags=[StudyKind.LIVE.value], route_class=AdminFirstRoute)
forms = APIRouter(include_in_schema=False, route_class=AdminFirstRoute)

MAX_GENERATORS = 100


class LiveIn(BaseModel):
    prompt: str | None = Field(
        default=None,
        max_length=live.MAX_PROMPT_LENGTH,
        description="The prompt to generate; left out or empty: one is drawn from the study's prompts.",
    )
    voter: str | None = Field(
        default=None,
        max_length=100,
        description="Optional anonymous voter id (the hourly limit counts by it).",
    )


class LiveImageOut(BaseModel):
    state: Literal["waiting", "generating", "done", "failed"]


class LiveJobOut(BaseModel):
    job: str = Field(description="The round's id: GET /api/v1/live/{job} follows it.")
    study: str
    state: Literal["running", "ready", "failed"]
    version: int = Field(description="Grows with every change; pass it back as seen= to wait for the next.")
    prompt: str
    round_type: RoundType
    images: list[LiveImageOut] = Field(description="Each image's progress, in display order, no model names.")
    elapsed_s: float = Field(description="Seconds since the round was started (until it finished).")
    error: str | None = Field(default=None, description="Why the round failed (nothing of it was kept).")
    match: MatchOut | None = Field(default=None, description="When ready: the match to vote on.")


class LiveSettingsIn(BaseModel):
    generators: list[str] = Field(
        default_factory=list,
        max_length=MAX_GENERATORS,
        description="Entries of the generators file the rounds are made by; none turns live rounds off.",
    )
    voter_limit_per_hour: int = Field(
        default=0, ge=0, le=1_000_000, description="Live rounds one voter may start per hour; 0: no limit."
    )
    daily_budget: dict[str, int] = Field(
        default_factory=dict,
        description="Images each generator may make per UTC day; a missing name: no limit.",
    )
    prompts: list[str] = Field(
        default_factory=list,
        max_length=live.MAX_PROMPTS,
        description="Prompts a voter may draw instead of typing one.",
    )


class LiveSettingsOut(BaseModel):
    study: str
    round_type: RoundType
    enabled: bool = Field(description="Whether voters can start live rounds (enough generators chosen).")
    generators: list[str]
    voter_limit_per_hour: int
    daily_budget: dict[str, int]
    prompts: list[str]
    available: list[str] = Field(description="The entries of the generators file.")


START_ERRORS = errors(
    400,
    403,
    404,
    409,
    413,
    429,
    503,
    meanings={
        400: "The prompt was refused by the prompt filter or cannot be stored, or there is no prompt to draw.",
        403: "Sent from another site's page.",
        409: "The study is not live: no generators chosen, or its generators left the generators file.",
        429: "This client's requests, this voter's hourly live rounds or the generators' daily budget are "
        "spent: wait Retry-After seconds.",
        503: "This server is making too many live rounds: try again in a moment.",
    },
)
JOB_ERRORS = errors(400, 404, meanings={404: "No live round with this id (finished over 10 minutes ago)."})
SETTINGS_ERRORS = errors(400, 403, 404, 409, 413, meanings={409: "A folder study cannot be live."})


def job_json(job: live.LiveJob) -> dict[str, Any]:
    end = job.finished
    answer: dict[str, Any] = {
        "job": job.id,
        "study": job.study,
        "state": job.state,
        "version": job.version,
        "prompt": job.prompt,
        "round_type": job.round_type.value,
        "images": [{"state": s} for s in job.images],
        "elapsed_s": round((end if end is not None else time.monotonic()) - job.started, 3),
    }
    if job.error:
        answer["error"] = job.error
    if job.match is not None:
        answer["match"] = match_json(job.match)
    return answer


def _limited(exc: live.LiveLimitError) -> JSONResponse:
    return JSONResponse(
        error_body(type(exc).__name__, str(exc)),
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


@router.post(
    "/studies/{study}/live",
    response_model=LiveJobOut,
    response_model_exclude_none=True,
    status_code=202,
    responses=START_ERRORS,
)
def start_live(study: str, body: LiveIn, request: Request) -> Any:
    """Start a live round: the prompt is filtered, the generators chosen by the study's sampler, and
    the images made in parallel. Follow it with GET /api/v1/live/{job}."""
    arena = get_arena(request)
    limit_client(arena, request, "match")
    address = request.client.host if request.client else ""
    try:
        job = live.start_live_round(arena, study, body.prompt or None, voter=body.voter or address)
    except live.LiveLimitError as exc:
        return _limited(exc)
    return JSONResponse(job_json(job), status_code=202)


@router.get("/live/{job}", response_model=LiveJobOut, response_model_exclude_none=True, responses=JOB_ERRORS)
async def live_progress(
    job: str,
    request: Request,
    seen: int = Query(default=-1, description="The version last seen: answer when the round changed since."),
    wait: float = Query(default=0, ge=0, le=live.MAX_WAIT_S, description="Seconds to wait for a change."),
) -> Any:
    """A live round's progress, and its match once every image is ready."""
    found = live.live_job(get_arena(request), job)
    if not found.done:
        await found.wait_async(seen, wait)
    return JSONResponse(job_json(found))


@router.get(
    "/studies/{study}/live",
    response_model=LiveSettingsOut,
    responses=errors(400, 403, 404),
    dependencies=[Depends(require_admin)],
)
def get_live_settings(study: str, request: Request) -> dict[str, Any]:
    """A study's live settings (admins)."""
    return _settings_json(live.get_live_settings(get_arena(request), study))


@router.put(
    "/studies/{study}/live",
    response_model=LiveSettingsOut,
    responses=SETTINGS_ERRORS,
    dependencies=[Depends(require_admin)],
)
def put_live_settings(study: str, body: LiveSettingsIn, request: Request) -> dict[str, Any]:
    """Set a study's live settings (admins): its generators, the hourly limit per voter, each
    generator's daily budget and the prompts to draw from."""
    saved = live.save_live_settings(
        get_arena(request),
        study,
        generators=body.generators,
        voter_limit_per_hour=body.voter_limit_per_hour,
        daily_budget=body.daily_budget,
        prompts=body.prompts,
    )
    return _settings_json(saved)


def _settings_json(s: live.LiveStudySettings) -> dict[str, Any]:
    return {
        "study": s.study,
        "round_type": s.round_type.value,
        "enabled": s.enabled,
        "generators": list(s.generators),
        "voter_limit_per_hour": s.voter_limit_per_hour,
        "daily_budget": dict(s.daily_budget),
        "prompts": list(s.prompts),
        "available": list(s.available),
    }


@forms.post("/studies/{study}/live", dependencies=[Depends(require_admin)])
async def live_settings_form(study: str, request: Request) -> RedirectResponse:
    """The study page's live settings form: checked generators, a budget field per generator (blank:
    no limit), the hourly limit and the prompts, one a line."""
    form = await request.form()
    generators = [str(v) for v in form.getlist("generators")]
    budget: dict[str, int] = {}
    for key, value in form.multi_items():
        name = key.removeprefix("budget:")
        if key.startswith("budget:") and name in generators and str(value).strip():
            budget[name] = _whole(str(value), f"the daily budget of {name!r}")
    limit = str(form.get("voter_limit_per_hour") or "").strip()
    live.save_live_settings(
        get_arena(request),
        study,
        generators=generators,
        voter_limit_per_hour=_whole(limit, "the live rounds per voter and hour") if limit else 0,
        daily_budget=budget,
        prompts=str(form.get("prompts") or "").splitlines(),
    )
    return RedirectResponse(f"/studies/{quote(study, safe='')}#live-settings", status_code=303)


def _whole(text: str, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(f"{what} must be a whole number, 0 or more") from None
    if value < 0:
        raise InputError(f"{what} must be a whole number, 0 or more")
    return value


def live_page_settings(request: Request, study: str, *, admin: bool) -> dict[str, Any]:
    """What the arena and study pages show of live rounds: ``live`` (the settings, or None when the
    study is not live) and, for admins, ``live_form`` (the settings with the generators file's entries,
    or the file's error)."""
    arena = get_arena(request)
    context: dict[str, Any] = {StudyKind.LIVE.value: live.live_state(arena, study)}
    if admin:
        try:
            context["live_form"] = live.get_live_settings(arena, study)
            context["live_form_error"] = None
        except ImageArenaError as exc:
            context["live_form"], context["live_form_error"] = None, str(exc)
    return context
