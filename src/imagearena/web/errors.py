"""How every error is answered: one decision for the exception handlers and for the plain-ASGI
middleware, which refuse a request before any route (or handler) runs.

API paths and clients that do not ask for HTML get ``{"error": {"type", "message"}}``; a browser's page
request (``Accept: text/html`` outside /api/) gets the HTML error page with the same status.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

ErrorBody = dict[str, dict[str, str]]


def wants_json(path: str, accept: str) -> bool:
    return path.startswith("/api/") or "text/html" not in accept


def error_body(kind: str, message: str) -> ErrorBody:
    """The shared error shape (web.api.ErrorOut)."""
    return {"error": {"type": kind, "message": message}}


def error_response(
    request: Request, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if wants_json(request.url.path, request.headers.get("accept", "")):
        return JSONResponse(error_body(kind, message), status_code=status, headers=headers)
    from imagearena.web.pages import render

    response = render(
        request, "error.html", {"status": status, "kind": kind, "message": message}, status=status
    )
    response.headers.update(headers or {})
    return response
