"""Refuse state-changing requests that a browser sends on behalf of another origin (CSRF).

The admin cookie is SameSite=strict, but that does not stop a page on the same site (another port or
subdomain) from posting a form to the admin routes. A browser names the page that made a request in
``Origin`` (always on POST), in ``Sec-Fetch-Site``, or in ``Referer``; when one of them names another
origin, the request is refused. A client that sends none of them is not a browser acting for a page
(curl, scripts with a Bearer token), so it is let through; it still needs the admin token where one
is required.

The origin's host is compared with ``Host`` (or ``X-Forwarded-Host``, which no page can set without a
CORS preflight this app never grants), not its scheme, so a TLS-terminating proxy keeps working.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from imagearena.web.asgi import ASGIApp, Receive, Scope, Send, header, send_error

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})  # "none": typed, bookmarked, not from a page


class SameOriginWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            problem = cross_origin_problem(scope)
            if problem is not None:
                await send_error(scope, receive, send, 403, "ForbiddenError", problem)
                return
        await self.app(scope, receive, send)


def cross_origin_problem(scope: Scope) -> str | None:
    """Why the request comes from another origin, or None when it does not (or says nothing)."""
    hosts = {h for h in (header(scope, b"host"), header(scope, b"x-forwarded-host")) if h}
    origin = header(scope, b"origin")
    if origin is not None:
        return None if _host_of(origin) in hosts else _refusal(f"from the page origin {origin!r}")
    fetch_site = header(scope, b"sec-fetch-site")
    if fetch_site is not None:
        return None if fetch_site in SAME_ORIGIN_FETCH else _refusal(f"from a {fetch_site} page")
    referer = header(scope, b"referer")
    if referer is not None and _host_of(referer) not in hosts:
        return _refusal("from another site's page")
    return None


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).netloc or None
    except ValueError:
        return None


def _refusal(where: str) -> str:
    return (
        f"this request was sent {where}, not from this server's pages: "
        "use the pages of this server, or an API client with the admin token"
    )
