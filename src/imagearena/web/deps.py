"""Request dependencies: the process's Arena and the admin check."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute

from imagearena.arena.runtime import Arena
from imagearena.arena.tokens import check_admin

ADMIN_COOKIE = "imagearena_admin"


def get_arena(request: Request) -> Arena:
    """The process's Arena, set by create_app (Starlette's app state holds untyped attributes)."""
    return cast(Arena, request.app.state.arena)


def admin_token_of(request: Request) -> str | None:
    """The admin token a request presents: Bearer header, X-Admin-Token header, or the login cookie."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-admin-token") or request.cookies.get(ADMIN_COOKIE)


def require_admin(request: Request) -> None:
    """Dependency for admin actions (create study, import, reset); voting needs no token."""
    check_admin(admin_token_of(request), get_arena(request).admin_token)


def is_admin(request: Request) -> bool:
    try:
        require_admin(request)
    except Exception:
        return False
    return True


class AdminFirstRoute(APIRoute):
    """A route that checks the admin token before it reads the body, when it depends on require_admin.

    FastAPI parses the body before it runs dependencies, so without this an anonymous client could
    make the server read and parse a body for an action it may not take.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not any(d.dependency is require_admin for d in self.dependencies):
            return handler

        async def admin_first(request: Request) -> Response:
            require_admin(request)
            return await handler(request)

        return admin_first
