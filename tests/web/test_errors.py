"""Bad requests are answered 4xx, never 500, on SQLite and PostgreSQL: text no database can store in a
URL or a study's title, bodies over the limit (declared or streamed), admin bodies sent without the
token, and the error answers documented in /openapi.json."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from seeding import STUDY


def study_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route, page or API, that takes a study in its path."""
    from imagearena.web import api, media, pages

    return sorted(
        (method, route.path)
        for router in (api.router, pages.router, media.router)
        for route in router.routes
        if isinstance(route, APIRoute) and "{study}" in route.path
        for method in route.methods
        if method != "HEAD"
    )


def test_every_study_route_is_covered():
    paths = {path for _, path in study_routes()}
    assert {"/api/v1/studies/{study}/matches", "/arena/{study}", "/studies/{study}/reset"} <= paths
    assert len(paths) >= 16


@pytest.mark.parametrize("name", ["%00", "t2i%00", "a%01b", "%1Bname"])
def test_unstorable_study_name_is_400_on_every_route(client, admin_headers, name):
    for method, template in study_routes():
        path = re.sub(r"\{[a-z_]+\}", "1", template.replace("{study}", name))
        r = client.request(method, path, headers=admin_headers, json={"folder": "/nowhere"})
        assert r.status_code == 400, (method, path, r.status_code, r.text)
        error = r.json()["error"]
        assert error["type"] == "InputError" and "URL path" in error["message"], error


def test_unstorable_query_text_is_400(client):
    r = client.get("/go", params={"study": "a\x00b"})
    assert r.status_code == 400 and "URL query" in r.json()["error"]["message"]
    r = client.get(f"/api/v1/studies/{STUDY}/leaderboard", params={"method": "elo\x00"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("title", "a\x00b", "NUL"),
        ("description", "line\x00two", "NUL"),
        ("title", "bell\x07", "control character"),
        ("title", "x" * 201, "longer than 200"),
    ],
)
def test_create_study_refuses_unstorable_text(client, admin_headers, field, value, says):
    r = client.post("/api/v1/studies", json={"name": "fresh", field: value}, headers=admin_headers)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]
    assert client.get("/api/v1/studies/fresh").status_code == 404  # nothing half-created


def test_create_study_refuses_a_lone_surrogate(client, admin_headers):
    body = b'{"name": "fresh", "title": "half \\ud800 pair"}'
    headers = {**admin_headers, "content-type": "application/json"}
    r = client.post("/api/v1/studies", content=body, headers=headers)
    assert r.status_code == 400, r.text


def test_create_study_form_refuses_a_nul_title(client, admin_headers):
    r = client.post("/studies", data={"name": "fresh", "title": "a\x00b"}, headers=admin_headers)
    assert r.status_code == 400 and "NUL" in r.text


def test_import_refuses_a_nul_folder(client, admin_headers):
    r = client.post(f"/api/v1/studies/{STUDY}/import", json={"folder": "/tmp\x00x"}, headers=admin_headers)
    assert r.status_code == 400 and "folder contains a NUL" in r.json()["error"]["message"]


# --- body size ---------------------------------------------------------------------------------------


def _limited_client(arena, max_body_bytes: int):
    from fastapi.testclient import TestClient

    from imagearena.web.app import create_app

    settings = arena.settings.model_copy(update={"max_body_bytes": max_body_bytes})
    app = create_app(settings, arena=arena, snapshot_interval_s=0, background_snapshots=False)
    return TestClient(app)


def test_default_limit_is_one_mebibyte():
    from imagearena.settings import Settings

    assert Settings().max_body_bytes == 1024 * 1024


@pytest.mark.parametrize(
    "path", ["/api/v1/studies", f"/api/v1/studies/{STUDY}/import", "/api/v1/votes", "/studies", "/nowhere"]
)
def test_a_declared_body_over_the_limit_is_413_before_any_route(client, path):
    body = b"{" + b" " * (1024 * 1024) + b"}"
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["type"] == "PayloadTooLarge" and "IMAGEARENA_MAX_BODY_BYTES" in error["message"]


def test_a_streamed_body_is_counted_chunk_by_chunk(arena, admin_headers):
    """No Content-Length: the body arrives in chunks and is cut off at the first one past the limit."""
    sent = []

    def chunks():
        for i in range(64):
            sent.append(i)
            yield b'{"name": "streamed", "description": "' if i == 0 else b"x" * 1024

    with _limited_client(arena, 8 * 1024) as client:
        r = client.post(
            "/api/v1/studies", content=chunks(), headers={**admin_headers, "content-type": "application/json"}
        )
        assert r.status_code == 413, r.text
        assert "8192 bytes" in r.json()["error"]["message"]
        assert client.get("/api/v1/studies/streamed").status_code == 404
        small = client.post("/api/v1/studies", json={"name": "small"}, headers=admin_headers)
        assert small.status_code == 201


def test_the_limit_is_configurable(arena, admin_headers):
    with _limited_client(arena, 100) as client:
        body = {"name": "fits", "description": "y" * 200}
        assert client.post("/api/v1/studies", json=body, headers=admin_headers).status_code == 413
        assert client.post("/api/v1/studies", json={"name": "fits"}, headers=admin_headers).status_code == 201


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/api/v1/studies", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        (
            f"/api/v1/studies/{STUDY}/import",
            {"content": b"[1, 2", "headers": {"content-type": "application/json"}},
        ),
        (f"/api/v1/studies/{STUDY}/reset", {"content": b"junk"}),
        ("/studies", {"content": b"%%%", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
        (f"/studies/{STUDY}/import", {"data": {}}),
    ],
)
def test_admin_routes_refuse_before_reading_the_body(client, path, kwargs):
    """A malformed body sent without the token is answered 403 (not 400): the body was never parsed."""
    r = client.post(path, **kwargs)
    assert r.status_code == 403, r.text
    assert "admin token" in r.text


# --- documented answers ------------------------------------------------------------------------------


def test_openapi_documents_errors_in_the_shared_shape_and_no_422(client):
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ErrorOut" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for verb, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (verb, path)
            assert "400" in responses, (verb, path)
            if "{study}" in path:
                assert "404" in responses, (verb, path)
            if verb == "post":
                assert {"403", "413"} <= set(responses), (verb, path)
            for status, answer in responses.items():
                if re.fullmatch(r"[45]\d\d", status):
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorOut"), (verb, path, status)


def test_match_and_vote_document_every_answer_they_give(client):
    spec = client.get("/openapi.json").json()
    documented = {
        "/api/v1/studies/{study}/matches": {"200", "400", "403", "404", "409", "413", "429"},
        "/api/v1/votes": {"201", "400", "403", "409", "413", "429", "503"},
        "/api/v1/undo": {"201", "400", "403", "404", "409", "413", "429", "503"},
    }
    for path, statuses in documented.items():
        responses = spec["paths"][path]["post"]["responses"]
        assert set(responses) == statuses, path
        retry_after = responses["429"]["headers"]["Retry-After"]
        assert retry_after["required"] is True and retry_after["schema"]["type"] == "integer"
    body = spec["paths"]["/api/v1/votes"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/VoteIn"}
    assert set(spec["components"]["schemas"]["VoteIn"]["required"]) == {"token"}  # and winner or ranks


def test_validation_errors_are_answered_400_in_the_shared_shape(client):
    r = client.get(f"/api/v1/studies/{STUDY}/history", params={"limit": 0})
    assert r.status_code == 400
    assert set(r.json()["error"]) == {"type", "message"}


# --- refusals before any route: the same answer as the handlers give ---------------------------------

HTML = {"accept": "text/html,application/xhtml+xml"}
BEFORE_ANY_ROUTE = [
    pytest.param("GET", "/studies/a%00b", {}, 400, "InputError", id="bad URL text"),
    pytest.param(
        "POST",
        "/studies",
        {"data": {"name": "x"}, "headers": {"origin": "http://evil.example"}},
        403,
        "ForbiddenError",
        id="cross-origin",
    ),
    pytest.param(
        "POST", "/studies", {"content": b"x" * (2 * 1024 * 1024)}, 413, "PayloadTooLarge", id="too large"
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "kind"), BEFORE_ANY_ROUTE)
def test_middleware_refusals_answer_a_browser_page_in_html(client, method, path, kwargs, status, kind):
    kwargs = dict(kwargs)  # the parameters are shared by every run of the test
    headers = {**HTML, **kwargs.pop("headers", {})}
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert f"{status}: {kind}" in r.text and 'class="error-message"' in r.text
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "kind"), BEFORE_ANY_ROUTE)
def test_middleware_refusals_answer_json_under_the_api_and_to_other_clients(
    client, method, path, kwargs, status, kind
):
    kwargs = dict(kwargs)
    extra = kwargs.pop("headers", {})
    for url, accept in ((f"/api/v1{path}", HTML), (path, {"accept": "application/json"})):
        r = client.request(method, url, headers={**accept, **extra}, **kwargs)
        assert r.status_code == status, (url, r.text)
        assert r.json()["error"]["type"] == kind, url


def test_security_headers_on_an_unhandled_error(arena):
    from fastapi.testclient import TestClient

    from imagearena.web.app import create_app

    app = create_app(arena.settings, arena=arena, background_snapshots=False)

    def broken() -> None:
        raise RuntimeError("a bug, not a user error")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/broken", headers=HTML)
    assert r.status_code == 500
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("x-frame-options") == "DENY"
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", "")
