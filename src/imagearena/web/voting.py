"""The answers to the two requests every voter repeats, next match and vote: one function builds each,
for the documented FastAPI routes (web.api) and the plain-ASGI front (web.hotpath) alike.

An answer is (status, JSON body, headers); the two callers only differ in how they send it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from imagearena.arena.folder import served_prompts
from imagearena.arena.matches import ServedMatch, serve_match
from imagearena.arena.ratelimit import RateLimitedError
from imagearena.arena.runtime import Arena
from imagearena.arena.tokens import check_admin
from imagearena.arena.undo import UndoneDecision
from imagearena.arena.votes import RecordedVote, record_vote_async
from imagearena.errors import ForbiddenError, ImageArenaError, InputError
from imagearena.types import Outcome, RoundType
from imagearena.web.deps import admin_token_of
from imagearena.web.errors import error_body
from imagearena.web.media import match_image_url

Answer = tuple[int, dict[str, Any], dict[str, str]]
MAX_VOTE_BODY = 8192


Rank = Annotated[int, Field(strict=True, ge=1, le=4)]


class VoteIn(BaseModel):
    """A decision on a served match: ``winner`` for a pair round, ``ranks`` for a four-image round."""

    token: str
    winner: Outcome | None = Field(
        default=None, description="Pair rounds: model_a is the left image, model_b the right one."
    )
    ranks: list[Rank] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="Four-image rounds: one rank per image in display order, 1 = best, equal ranks tie. "
        "best4: the pick 1 and the others 2, or all 1 for no clear best; order4: e.g. [1, 2, 2, 4].",
    )
    voter: str | None = Field(default=None, max_length=100, description="Optional anonymous voter id.")

    @model_validator(mode="after")
    def _one_decision(self) -> VoteIn:
        if (self.winner is None) == (self.ranks is None):
            raise ValueError("send exactly one of winner (a pair round) or ranks (a four-image round)")
        return self


class UndoIn(BaseModel):
    token: str = Field(description="The token the decision to undo was cast with.")
    voter: str | None = Field(default=None, max_length=100, description="Optional anonymous voter id.")


def answer_match(arena: Arena, request: Request, study: str) -> Answer:
    """Serve a match of ``study``: the prompt and two images, no model names."""
    try:
        limit_client(arena, request, "match")
        match = serve_match(arena, study)
        return 200, match_json(match, served_prompts(arena, match)), {}
    except ImageArenaError as exc:
        return error_answer(exc)


async def answer_vote(arena: Arena, request: Request) -> Answer:
    """Record the vote in the request's body (a VoteIn) and reveal the two models."""
    try:
        body = parse_vote(await read_vote_body(request))
        limit_client(arena, request, "vote", body.voter)
        vote = await record_vote_async(
            arena,
            body.token,
            None if body.winner is None else body.winner.value,
            voter=body.voter or "",
            ranks=body.ranks,
        )
    except ImageArenaError as exc:
        return error_answer(exc)
    return 201, vote_json(vote), {}


def json_response(answer: Answer) -> JSONResponse:
    status, body, headers = answer
    return JSONResponse(body, status_code=status, headers=headers)


def match_json(m: ServedMatch, prompts: Sequence[str | None] = ()) -> dict[str, Any]:
    """A match as the API answers it: its images in display order, no model names; a pair also as
    ``left`` and ``right``. ``prompts``: each image's own prompt, where one is known (a folder study's
    images), sent as the image's ``prompt``."""
    images: list[dict[str, Any]] = [{"image_url": match_image_url(im.name)} for im in m.images]
    for image, prompt in zip(images, prompts, strict=False):
        if prompt:
            image["prompt"] = prompt
    answer: dict[str, Any] = {
        "study": m.study,
        "token": m.token,
        "prompt": m.prompt,
        "round_type": m.round_type.value,
        "images": images,
    }
    if m.round_type is RoundType.PAIR:
        answer["left"], answer["right"] = images
    return answer


def vote_json(v: RecordedVote) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "vote_id": v.vote_id,
        "study": v.study,
        "round_type": v.round_type.value,
        "models": list(v.models),
    }
    if v.round_type is RoundType.PAIR:
        answer.update(winner=v.winner, model_a=v.model_a, model_b=v.model_b)
    else:
        answer["ranks"] = list(v.ranks or ())
    return answer


def undo_json(u: UndoneDecision) -> dict[str, Any]:
    return {"undone": u.undone, "study": u.study, "match": match_json(u.match)}


def error_answer(exc: ImageArenaError) -> Answer:
    """A user error in the shared error shape; a 429 says when to retry."""
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimitedError) else {}
    return exc.http_status, error_body(type(exc).__name__, str(exc)), headers


async def read_vote_body(request: Request) -> bytes:
    """The request body, read no further than a vote may be long."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_VOTE_BODY:
                raise InputError(f"invalid request: body over {MAX_VOTE_BODY} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InputError("invalid request: the client went away") from None
    return b"".join(chunks)


def parse_vote(raw: bytes) -> VoteIn:
    """The vote in a request body, checked by VoteIn; InputError (400) says what is wrong. pydantic's
    own JSON parser bounds nesting (a deep body is a 400, not a RecursionError)."""
    try:
        return VoteIn.model_validate_json(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err['msg']}" if where else err["msg"])
        raise InputError("invalid request: " + "; ".join(problems)) from None


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
