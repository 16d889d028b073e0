"""HTML pages render from the same use cases, work without a CDN, and guard admin forms."""

from __future__ import annotations

import re

from seeding import MODELS, PROMPTS, STUDY

HTML = {"accept": "text/html"}


def vote_some(client, n=6):
    for i in range(n):
        token = client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"]
        client.post("/api/v1/votes", json={"token": token, "winner": ["model_a", "model_b", "tie"][i % 3]})


def test_home_opens_the_arena_of_a_playable_study(client):
    r = client.get("/", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/arena/{STUDY}"


def test_arena_page_has_buttons_keys_and_local_assets_only(client):
    page = client.get(f"/arena/{STUDY}", headers=HTML).text
    for winner in ("model_a", "model_b", "tie", "both_bad"):
        assert f'data-winner="{winner}"' in page
    assert 'id="skip"' in page and 'id="next"' in page
    assert f'data-study="{STUDY}"' in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(a.startswith(("/", "data:", "?", "#")) for a in assets), assets  # no CDN: works offline
    for asset in ("/static/app.css", "/static/arena.js", "/static/nav.js"):
        assert asset in page and client.get(asset).status_code == 200


def test_leaderboard_page_shows_methods_matrix_and_chart(client):
    empty = client.get(f"/leaderboard/{STUDY}", headers=HTML).text
    assert 'id="no-votes"' in empty and "No rating history yet" in empty
    vote_some(client)
    page = client.get(f"/leaderboard/{STUDY}", headers=HTML).text
    assert 'id="leaderboard"' in page and 'id="winrates"' in page
    assert "<svg" in page and "<polyline" in page  # rating over time, drawn inline
    for title in ("Elo", "TrueSkill", "Bradley-Terry"):
        assert title in page
    rows = re.findall(r'<tr data-model="([^"]+)">', page)
    assert sorted(rows) == sorted(MODELS)
    assert '<span id="vote-total">6</span>' in page
    bt = client.get(f"/leaderboard/{STUDY}?method=bt", headers=HTML)
    assert bt.status_code == 200 and "<strong>Bradley-Terry</strong>" in bt.text
    bad = client.get(f"/leaderboard/{STUDY}?method=nope", headers=HTML)
    assert bad.status_code == 400 and "unknown rating method" in bad.text and "<html" in bad.text


def test_history_page_shows_thumbnails(client):
    vote_some(client, 3)
    page = client.get(f"/history/{STUDY}", headers=HTML).text
    thumbs = re.findall(r'<img class="thumb"[^>]* src="(/media/[0-9a-f]{64}\.png)"', page)
    assert len(thumbs) == 6
    assert client.get(thumbs[0]).status_code == 200


def test_studies_pages_list_models_and_prompts(client):
    page = client.get("/studies", headers=HTML).text
    assert f'href="/studies/{STUDY}"' in page and 'id="admin-login"' in page
    assert 'id="create-study"' not in page  # the form needs the admin token first
    detail = client.get(f"/studies/{STUDY}", headers=HTML).text
    for name in (*MODELS, *PROMPTS):
        assert name in detail
    assert 'id="reset-form"' not in detail


def test_unknown_pages_render_html_errors(client):
    r = client.get("/arena/missing", headers=HTML)
    assert r.status_code == 404 and "unknown study" in r.text and "<html" in r.text
    r = client.get("/media/" + "0" * 64 + ".png")
    assert r.status_code == 404
    r = client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and "<html" in r.text and "Not Found" in r.text
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFound"
    r = client.delete("/api/v1/studies")
    assert r.status_code == 405 and "allow" in r.headers


def test_admin_login_then_create_and_reset_through_forms(client, arena):
    refused = client.post("/studies", data={"name": "formed"}, headers=HTML)
    assert refused.status_code == 403 and "sign in with the admin token" in refused.text
    r = client.post("/admin/login", data={"token": "wrong"}, headers=HTML)
    assert r.status_code == 403
    r = client.post(
        "/admin/login", data={"token": arena.admin_token, "next": "/studies"}, follow_redirects=False
    )
    assert r.status_code == 303 and "imagearena_admin" in r.headers["set-cookie"]
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = client.get("/studies", headers=HTML).text
    assert 'id="create-study"' in page
    r = client.post("/studies", data={"name": "formed", "title": "Formed"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/studies/formed"
    vote_some(client, 2)
    r = client.post(f"/studies/{STUDY}/reset", follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/studies/{STUDY}").json()["study"]["archived_votes"] == 2
    client.post("/admin/logout")
    client.cookies.clear()
    assert client.post(f"/studies/{STUDY}/reset", headers=HTML).status_code == 403


def test_study_picker_fallback(client):
    r = client.get("/go", params={"study": STUDY, "page": "leaderboard"}, follow_redirects=False)
    assert r.headers["location"] == f"/leaderboard/{STUDY}"
    r = client.get("/go", params={"study": STUDY, "page": "../etc"}, follow_redirects=False)
    assert r.headers["location"] == f"/arena/{STUDY}"


INLINE_CODE = re.compile(
    r"<script(?![^>]*\ssrc=)[^>]*>|<style[\s>]|\sstyle\s*=|\son[a-z]+\s*=", re.IGNORECASE
)


def test_pages_hold_no_inline_script_or_style(client, arena, admin_headers):
    """A strict Content-Security-Policy (default-src 'self') refuses inline code and styles."""
    vote_some(client, 6)  # the win-rate matrix and the chart render
    client.post("/api/v1/studies", json={"name": "empty"}, headers=admin_headers).raise_for_status()
    client.post("/admin/login", data={"token": arena.admin_token})  # the admin forms render
    paths = [f"/arena/{STUDY}", "/arena/empty", f"/history/{STUDY}", "/studies", f"/studies/{STUDY}", "/nope"]
    paths += [f"/leaderboard/{STUDY}?method={m}" for m in ("elo", "trueskill", "bt")]
    for path in paths:
        page = client.get(path, headers=HTML).text
        assert "<html" in page, path
        assert INLINE_CODE.findall(page) == [], path
        assert '<link rel="icon" href="/favicon.ico">' in page, path
    assert 'id="reset-form"' in client.get(f"/studies/{STUDY}", headers=HTML).text
    assert 'class="rate-' in client.get(f"/leaderboard/{STUDY}", headers=HTML).text
    assert client.get("/static/forms.js").status_code == 200


def test_arena_buttons_start_disabled_until_a_match_is_ready(client):
    page = client.get(f"/arena/{STUDY}", headers=HTML).text
    buttons = re.findall(r"<button[^>]*(?:data-winner|id=\"skip\")[^>]*>", page)
    assert len(buttons) == 5 and all(" disabled" in b for b in buttons)
    assert 'data-state="loading"' in page
    assert '<span id="vote-count" data-count="0">0 votes so far' in page


def test_arena_of_a_study_without_a_match_says_why(client, admin_headers):
    client.post("/api/v1/studies", json={"name": "bare"}, headers=admin_headers).raise_for_status()
    page = client.get("/arena/bare", headers=HTML).text
    assert 'data-state="empty"' in page and "Nothing to vote on yet" in page
    assert "Loading a match" not in page
    assert re.search(r'<div class="pair" hidden>', page)


def test_bradley_terry_chart_waits_for_an_established_estimate(client):
    vote_some(client, 6)  # two votes per model at most: no estimate to draw yet
    page = client.get(f"/leaderboard/{STUDY}?method=bt", headers=HTML).text
    assert "No established estimate yet" in page and "<polyline" not in page
    elo = client.get(f"/leaderboard/{STUDY}?method=elo", headers=HTML).text
    assert "<svg" in elo and "No established estimate" not in elo
