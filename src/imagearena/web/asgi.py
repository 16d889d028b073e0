"""What the plain-ASGI middleware share: the ASGI types, reading a header, and answering an error.

They answer before any route runs, so they cannot raise into FastAPI's exception handlers; they answer
through the same function (web.errors.error_response) instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from imagearena.web.errors import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(
    scope: Scope, receive: Receive, send: Send, status: int, kind: str, message: str
) -> None:
    """Answer ``status`` as the exception handlers do: the shared JSON error shape, or the HTML error
    page to a browser's page request."""
    await error_response(Request(scope, receive), status, kind, message)(scope, receive, send)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), decoded as Latin-1 like Starlette does."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
