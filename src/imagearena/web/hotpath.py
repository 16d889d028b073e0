"""A plain-ASGI front for the two requests every voter repeats: next match and vote.

They are answered here, without FastAPI's routing, dependency solving and response objects, which
cost more CPU than the work itself (a match is drawn from memory, a vote is queued for group
commit). The FastAPI routes in web.api stay the documented API (OpenAPI) and answer the same way
when this front is off (``create_app(..., hot_path=False)``); tests compare the two.
"""

from __future__ import annotations

import json
from typing import Any

from imagearena.arena.matches import serve_match
from imagearena.arena.votes import WINNERS, record_vote_async
from imagearena.errors import ImageArenaError, InputError
from imagearena.web.media import image_url

_PREFIX = "/api/v1/studies/"
_SUFFIX = "/matches"
MAX_BODY = 8192
_JSON = [(b"content-type", b"application/json")]


class HotPath:
    def __init__(self, app: Any, arena: Any) -> None:
        self.app = app
        self.arena = arena

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path == "/api/v1/votes":
                await self._answer(send, *await self._vote(receive))
                return
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                study = path[len(_PREFIX) : -len(_SUFFIX)]
                if study and "/" not in study:
                    await self._answer(send, *self._match(study))
                    return
        await self.app(scope, receive, send)

    def _match(self, study: str) -> tuple[int, dict]:
        try:
            m = serve_match(self.arena, study)
        except ImageArenaError as exc:
            return _error(exc)
        return 200, {
            "study": m.study,
            "token": m.token,
            "prompt": m.prompt,
            "left": {"image_url": image_url(m.left_sha256, m.left_format)},
            "right": {"image_url": image_url(m.right_sha256, m.right_format)},
        }

    async def _vote(self, receive) -> tuple[int, dict]:
        try:
            body = await _read_json(receive)
            token, winner, voter = _vote_fields(body)
            v = await record_vote_async(self.arena, token, winner, voter=voter)
        except ImageArenaError as exc:
            return _error(exc)
        return 201, {
            "vote_id": v.vote_id,
            "study": v.study,
            "winner": v.winner,
            "model_a": v.model_a,
            "model_b": v.model_b,
        }

    @staticmethod
    async def _answer(send, status: int, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [*_JSON, (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _error(exc: ImageArenaError) -> tuple[int, dict]:
    return exc.http_status, {"error": {"type": type(exc).__name__, "message": str(exc)}}


async def _read_json(receive) -> Any:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise InputError("invalid request: the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise InputError(f"invalid request: body over {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        raise InputError("invalid request: the body is not JSON") from None


def _vote_fields(body: Any) -> tuple[str, str, str]:
    """The same checks as web.api.VoteIn, with messages in the same shape."""
    if not isinstance(body, dict):
        raise InputError("invalid request: send a JSON object with token and winner")
    problems = []
    token, winner, voter = body.get("token"), body.get("winner"), body.get("voter")
    if not isinstance(token, str):
        problems.append("token: Field required" if token is None else "token: Input should be a valid string")
    if winner is None:
        problems.append("winner: Field required")
    elif winner not in WINNERS:
        problems.append(f"winner: Input should be {', '.join(repr(w) for w in WINNERS)}")
    if voter is not None and (not isinstance(voter, str) or len(voter) > 100):
        problems.append("voter: Input should be a string of at most 100 characters")
    if problems:
        raise InputError("invalid request: " + "; ".join(problems))
    return token, winner, voter or ""  # type: ignore[return-value]
