"""The FastAPI application factory: routes, templates, local static files, error pages.

Everything a request needs is in ``app.state.arena`` (one per process), built from the settings the
factory receives; nothing is read from globals.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from imagearena import __version__
from imagearena.arena.runtime import Arena
from imagearena.errors import ImageArenaError
from imagearena.settings import Settings
from imagearena.web.errors import error_response
from imagearena.web.security import SecurityHeaders, content_security_policy

WEB_DIR = Path(__file__).resolve().parent


class ArenaApp(FastAPI):
    """FastAPI with the security headers as the outermost layer, outside Starlette's error middleware,
    so that even the 500 of an unhandled error carries them."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), csp=self.state.csp)


def create_app(
    settings: Settings,
    *,
    arena: Arena | None = None,
    snapshot_interval_s: float = 60.0,
    background_snapshots: bool = True,
    hot_path: bool = True,
) -> FastAPI:
    """Build the web app. ``snapshot_interval_s`` is the least time between two rating snapshots of a
    study (the points of its rating-over-time chart); a background thread takes them while votes arrive.
    ``hot_path`` answers next-match and vote in plain ASGI (web.hotpath) ahead of the FastAPI routes."""
    from imagearena.web import agreement, api, bulk, folder, judging, live, media, pages

    owns_arena = arena is None
    arena = arena or Arena(settings)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _warm_pools(arena)
        worker = None
        if background_snapshots:
            worker = threading.Thread(
                target=_snapshot_loop, args=(arena, snapshot_interval_s, stop), name="snapshots", daemon=True
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=5)
            if owns_arena:  # write what is queued, then release the database
                arena.close()

    app = ArenaApp(
        title="imagearena",
        version=__version__,
        description="Vote between images of anonymous text-to-image models; leaderboards follow.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI would load from a CDN; the app serves nothing from the internet
        redoc_url=None,
        # A self-hosted app that reports to no one: skip the per-request OpenTelemetry hooks.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.arena = arena
    app.state.csp = content_security_policy(WEB_DIR / "templates")
    app.state.snapshot_interval_s = snapshot_interval_s
    app.include_router(api.router)
    app.include_router(agreement.router)
    app.include_router(judging.router)
    app.include_router(bulk.router)
    app.include_router(media.router)
    app.include_router(folder.router)
    app.include_router(live.router)
    app.include_router(live.forms)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    _add_middleware(app, settings, arena if hot_path else None)
    app.add_exception_handler(ImageArenaError, _user_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_middleware(app: FastAPI, settings: Settings, hot_path_arena: Arena | None) -> None:
    """Plain-ASGI middleware, outermost last: the body limit, the same-origin check and the URL check,
    all ahead of the vote front and the routes (the security headers wrap them all: ArenaApp)."""
    from imagearena.web.csrf import SameOriginWrites
    from imagearena.web.hotpath import HotPath
    from imagearena.web.limits import BodyLimit
    from imagearena.web.urltext import UrlTextCheck

    if hot_path_arena is not None:
        app.add_middleware(HotPath, arena=hot_path_arena)
    app.add_middleware(UrlTextCheck)
    app.add_middleware(SameOriginWrites)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)


def _favicon() -> FileResponse:
    return FileResponse(WEB_DIR / "static" / "favicon.ico", media_type="image/x-icon")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema without FastAPI's default 422 answers: invalid requests are answered 400, in the
    shared error shape each route documents."""
    from imagearena.web.api import body_schemas

    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for name, body in body_schemas().items():
            components.setdefault(name, body)
        app.openapi_schema = schema
    return app.openapi_schema


async def _user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ImageArenaError)
    return error_response(request, exc.http_status, type(exc).__name__, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in the same error shape as user errors."""
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    return error_response(request, exc.status_code, kind, str(exc.detail), exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return error_response(request, 400, "InputError", "invalid request: " + "; ".join(parts))


def _warm_pools(arena: Arena) -> None:
    """Load every playable study's match pool before the first voter arrives, not during their request."""
    from imagearena.arena.studies import list_studies

    try:
        for study in list_studies(arena):
            if study.models >= 2:
                with suppress(ImageArenaError):  # not playable yet: the first request says why
                    arena.pools.get(study.name)
    except Exception:  # an unreachable database is reported by the first request that needs it
        import logging

        logging.getLogger("imagearena.web").exception("could not preload the match pools")


def _snapshot_loop(arena: Arena, interval_s: float, stop: threading.Event) -> None:
    """Append rating snapshots for studies that received votes, so rating-over-time has history even
    when nobody opens the leaderboard."""
    import logging

    from imagearena.arena.leaderboards import snapshot_if_due
    from imagearena.arena.studies import list_studies

    log = logging.getLogger("imagearena.snapshots")
    while not stop.wait(max(interval_s, 1.0)):
        try:
            for study in list_studies(arena):
                if study.votes:
                    snapshot_if_due(arena, study.name, interval_s)
        except Exception:  # keep serving; the next round retries
            log.exception("rating snapshot failed")


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker serving: settings from IMAGEARENA_* variables."""
    return create_app(Settings())
