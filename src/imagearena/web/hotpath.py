"""A plain-ASGI front for the two requests every voter repeats: next match and vote.

They are answered here, without FastAPI's routing, dependency solving and response handling, which
cost more CPU than the work itself (a match is drawn from memory, a vote is queued for group commit):
`benchmarks/bench_load.py --compare-hot-path` measures the front on and off (benchmarks/README.md).
The answers are built by the same functions as the documented FastAPI routes' (web.voting), which
answer alone when the front is off (``create_app(..., hot_path=False)``); tests compare the two.
"""

from __future__ import annotations

from starlette.requests import Request

from imagearena.arena.runtime import Arena
from imagearena.web.asgi import ASGIApp, Receive, Scope, Send
from imagearena.web.voting import answer_match, answer_vote, json_response

_PREFIX = "/api/v1/studies/"
_SUFFIX = "/matches"


class HotPath:
    def __init__(self, app: ASGIApp, arena: Arena) -> None:
        self.app = app
        self.arena = arena

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == "/api/v1/votes":
                request = Request(scope, receive)
                await json_response(await answer_vote(self.arena, request))(scope, receive, send)
                return
            study = _match_study(path)
            if study is not None:
                await json_response(answer_match(self.arena, Request(scope), study))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _match_study(path: str) -> str | None:
    """The study of a next-match path (``/api/v1/studies/<study>/matches``), else None."""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        study = path[len(_PREFIX) : -len(_SUFFIX)]
        if study and "/" not in study:
            return study
    return None
