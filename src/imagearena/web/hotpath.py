"""A plain-ASGI front for the two requests every voter repeats: next match and vote.

They are answered here, without FastAPI's routing, dependency solving and response objects, which
cost more CPU than the work itself (a match is drawn from memory, a vote is queued for group
commit). The FastAPI routes in web.api stay the documented API (OpenAPI) and answer the same way
when this front is off (``create_app(..., hot_path=False)``): both use web.api's request model, JSON
builders, error answers and rate limit; tests compare the two.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote_async
from imagearena.errors import ImageArenaError, InputError
from imagearena.web.api import MAX_VOTE_BODY, error_json, limit_client, match_json, parse_vote, vote_json

_PREFIX = "/api/v1/studies/"
_SUFFIX = "/matches"
_JSON = [(b"content-type", b"application/json")]

Answer = tuple[int, dict, dict[str, str]]


class HotPath:
    def __init__(self, app: Any, arena: Any) -> None:
        self.app = app
        self.arena = arena

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path == "/api/v1/votes":
                await self._answer(send, *await self._vote(scope, receive))
                return
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                study = path[len(_PREFIX) : -len(_SUFFIX)]
                if study and "/" not in study:
                    await self._answer(send, *self._match(scope, study))
                    return
        await self.app(scope, receive, send)

    def _match(self, scope, study: str) -> Answer:
        try:
            limit_client(self.arena, Request(scope), "match")
            return 200, match_json(serve_match(self.arena, study)), {}
        except ImageArenaError as exc:
            return error_json(exc)

    async def _vote(self, scope, receive) -> Answer:
        try:
            body = parse_vote(await _read_body(receive))
            limit_client(self.arena, Request(scope), "vote", body.voter)
            v = await record_vote_async(self.arena, body.token, body.winner, voter=body.voter or "")
        except ImageArenaError as exc:
            return error_json(exc)
        return 201, vote_json(v), {}

    @staticmethod
    async def _answer(send, status: int, payload: dict, headers: dict[str, str]) -> None:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        raw_headers = [*_JSON, (b"content-length", str(len(data)).encode())]
        raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": data})


async def _read_body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise InputError("invalid request: the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_VOTE_BODY:
            raise InputError(f"invalid request: body over {MAX_VOTE_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
