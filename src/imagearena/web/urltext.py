"""Refuse URLs whose path or query holds text no database can store (a NUL, a control character).

Path parameters such as ``{study}`` reach database queries, where PostgreSQL fails on a NUL and the
whole request would answer 500. Checking the decoded URL once, before any route (the plain-ASGI vote
front included), covers every route and parameter.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from imagearena.errors import InputError
from imagearena.text import check_text
from imagearena.web.asgi import ASGIApp, Receive, Scope, Send, send_error


class UrlTextCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_url(scope)
            except InputError as exc:
                await send_error(scope, receive, send, 400, "InputError", str(exc))
                return
        await self.app(scope, receive, send)


def check_url(scope: Scope) -> None:
    """InputError naming the first part of the URL that holds a character no database can store."""
    check_text(scope["path"], "the URL path")
    query = scope.get("query_string", b"")
    if query:
        check_text(unquote_plus(query.decode("latin-1")), "the URL query")  # decoded as routes see it
