"""Browser safety: security headers and a Content-Security-Policy on every answer (checked in the real
Chromium too), same-origin checks on writes (CSRF), nothing loaded from the internet, a favicon, and
CSV exports that a spreadsheet opens as text."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from pathlib import Path

import pytest
from seeding import STUDY

WEB = Path(__file__).resolve().parents[2] / "src" / "imagearena" / "web"
HTML = {"accept": "text/html"}
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.fixture
def db_url(sqlite_url):
    """Headers and origins do not depend on the database: SQLite only."""
    return sqlite_url


def sign_in(client, arena) -> None:
    r = client.post("/admin/login", data={"token": arena.admin_token}, follow_redirects=False)
    assert r.status_code == 303


def epoch(client) -> int:
    return client.get(f"/api/v1/studies/{STUDY}").json()["study"]["epoch"]


# --- headers -----------------------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_answer(client):
    m = client.post(f"/api/v1/studies/{STUDY}/matches").json()
    answers = {
        "page": client.get("/studies", headers=HTML),
        "api": client.get("/api/v1/studies"),
        "match (vote front)": client.post(f"/api/v1/studies/{STUDY}/matches"),
        "image": client.get(m["left"]["image_url"]),
        "static": client.get("/static/app.css"),
        "not found": client.get("/nowhere", headers=HTML),
        "bad url": client.get("/api/v1/studies/%00"),
        "too large": client.post("/api/v1/studies", content=b"x" * (2 * 1024 * 1024)),
    }
    for what, r in answers.items():
        assert r.headers.get("x-content-type-options") == "nosniff", what
        assert r.headers.get("x-frame-options") == "DENY", what
        assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), what


def test_content_security_policy_allows_only_this_server(client):
    policy = client.get("/studies", headers=HTML).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "http" not in policy and "*" not in policy


def test_inline_handlers_in_templates_are_allowed_by_hash_only(tmp_path):
    from imagearena.web.security import content_security_policy

    (tmp_path / "page.html").write_text("""<form onsubmit="return confirm('Sure?')"></form>""")
    policy = content_security_policy(tmp_path)
    assert "'unsafe-hashes' 'sha256-" in policy and "script-src 'self' 'unsafe-inline'" not in policy
    assert "style-src 'self';" in policy
    (tmp_path / "page.html").write_text('<td style="color: red">x</td>')
    assert "style-src 'self' 'unsafe-inline'" in content_security_policy(tmp_path)


# --- CSRF --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # another port or subdomain of the same site
        {"referer": "http://other.example/page"},
    ],
)
def test_cookie_authenticated_form_from_another_origin_is_403(client, arena, headers):
    sign_in(client, arena)
    r = client.post(f"/studies/{STUDY}/reset", headers=headers, follow_redirects=False)
    assert r.status_code == 403, r.text
    assert "not from this server's pages" in r.json()["error"]["message"]
    assert epoch(client) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://testserver"},
        {"sec-fetch-site": "same-origin"},
        {"referer": "http://testserver/studies/t2i"},
        {"origin": "https://arena.example", "x-forwarded-host": "arena.example"},  # behind a TLS proxy
        {},  # not a browser
    ],
)
def test_same_origin_forms_keep_working(client, arena, headers):
    sign_in(client, arena)
    r = client.post(f"/studies/{STUDY}/reset", headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert epoch(client) == 1


def test_bearer_api_clients_without_origin_keep_working(client, admin_headers):
    r = client.post(f"/api/v1/studies/{STUDY}/reset", headers=admin_headers)
    assert r.status_code == 200 and r.json()["epoch"] == 1
    r = client.post("/api/v1/studies", json={"name": "scripted"}, headers=admin_headers)
    assert r.status_code == 201


def test_cross_origin_api_writes_and_logins_are_403(client, arena, admin_headers):
    evil = {"origin": "http://evil.example"}
    r = client.post(f"/api/v1/studies/{STUDY}/reset", headers={**admin_headers, **evil})
    assert r.status_code == 403
    r = client.post("/admin/login", data={"token": arena.admin_token}, headers=evil, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert client.get("/studies", headers=evil).status_code == 200  # reads are not refused


# --- nothing from the internet -----------------------------------------------------------------------


def external_urls(text: str) -> list[str]:
    return [u for u in re.findall(r"https?://[^\s\"'<>)]+", text) if u != SVG_NAMESPACE]


def test_no_page_or_static_file_loads_from_the_internet(client, arena):
    for _ in range(3):
        m = client.post(f"/api/v1/studies/{STUDY}/matches").json()
        client.post("/api/v1/votes", json={"token": m["token"], "winner": "model_a"})
    pages = ["/studies", f"/studies/{STUDY}", f"/arena/{STUDY}", f"/leaderboard/{STUDY}", f"/history/{STUDY}"]
    pages.append("/nowhere")
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, arena)
        for path in pages:
            r = client.get(path, headers=HTML)
            assert r.headers["content-type"].startswith("text/html"), path
            assert external_urls(r.text) == [], (path, external_urls(r.text))
    for asset in sorted((WEB / "static").glob("*.*")):
        if asset.suffix in (".js", ".css"):
            assert external_urls(asset.read_text()) == [], asset.name


def test_api_docs_page_is_gone_and_the_schema_stays(client):
    assert client.get("/api/docs", headers=HTML).status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "imagearena"


def test_favicon_is_an_image(client):
    from PIL import Image

    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/")
    icon = Image.open(io.BytesIO(r.content))
    assert icon.format == "ICO" and icon.size[0] >= 16


# --- exports -----------------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+2", "-3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_csv_export_escapes_spreadsheet_formulas(client):
    voters = [*FORMULAS, "plain", "a=b"]
    for voter in voters:
        m = client.post(f"/api/v1/studies/{STUDY}/matches").json()
        r = client.post("/api/v1/votes", json={"token": m["token"], "winner": "tie", "voter": voter})
        assert r.status_code == 201, r.text
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/studies/{STUDY}/votes.csv").text)))
    assert [row["voter"] for row in rows] == ["'" + v for v in FORMULAS] + ["plain", "a=b"]
    assert all(not row[f].startswith(("=", "+", "-", "@")) for row in rows for f in row)
    assert float(rows[0]["tstamp"]) > 0 and rows[0]["epoch"] == "0"  # numbers stay numbers
    jsonl = client.get(f"/api/v1/studies/{STUDY}/votes.jsonl").text.splitlines()
    assert [__import__("json").loads(line)["voter"] for line in jsonl] == voters  # JSON keeps the text


# --- in the real browser -----------------------------------------------------------------------------


@pytest.fixture
def live_server(arena):
    """The app over the test study, served by uvicorn on a free port in this process."""
    import socket

    import uvicorn

    from imagearena.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(arena.settings, arena=arena, snapshot_interval_s=0, background_snapshots=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.browser
@pytest.mark.parametrize("size", sorted(SIZES))
def test_pages_run_under_the_policy_in_chromium(live_server, arena, size, chromium):
    violations: list[str] = []
    context = chromium.new_context(viewport=SIZES[size])
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on(
            "console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None
        )
        page.on("dialog", lambda d: d.accept())
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        response = page.goto(f"{live_server}/arena/{STUDY}")
        assert (
            response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
        )
        # locators, not wait_for_function: the policy forbids the eval that the latter needs
        page.locator("#arena[data-state=ready]").wait_for()
        page.keyboard.press("1")  # vote for the left image, through the page's script
        page.locator("#arena[data-state=voted]").wait_for()
        assert page.locator("#name-left").inner_text() in ("alpha", "beta", "gamma")
        for path in ("/leaderboard/" + STUDY, "/history/" + STUDY, "/studies"):
            page.goto(live_server + path)
            page.wait_for_load_state("load")
        page.fill("#admin-login input[name=token]", arena.admin_token)
        page.click("#admin-login button[type=submit]")
        page.goto(f"{live_server}/studies/{STUDY}")
        page.click("#reset-form button[type=submit]")
        page.wait_for_load_state("load")
    finally:
        context.close()
    assert violations == []
    from imagearena.arena.studies import study_detail

    assert study_detail(arena, STUDY).summary.epoch == 1  # the signed-in reset form went through
