"""Leaderboard routes through the in-process app: time windows a datetime cannot hold are a 400, and
viewing a board never writes rating snapshots (the background task does)."""

from __future__ import annotations

import time

import pytest
from seeding import STUDY

from imagearena.arena import leaderboards
from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote

HTML = {"accept": "text/html"}
API_ROUTES = (f"/api/v1/studies/{STUDY}/leaderboard", f"/api/v1/studies/{STUDY}/winrates")
PAGE = f"/leaderboard/{STUDY}"
OUT_OF_RANGE = ("1e20", "inf", "nan", "-1e20", "9999-12-31T23:59:59-23:00", "0001-01-01T00:00:00+01:00")
EDGES = ("0001-01-01T00:00:00Z", "-62135596800", "9999-12-31T23:59:59.999999Z", "253402300799")


def cast(arena, n: int = 6) -> None:
    for i in range(n):
        record_vote(arena, serve_match(arena, STUDY).token, ("model_a", "model_b", "tie")[i % 3])


def snapshot_rows(arena) -> int:
    from sqlalchemy import func, select

    from imagearena.storage.models import RatingSnapshot

    with arena.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(RatingSnapshot)) or 0)


@pytest.mark.parametrize("route", API_ROUTES)
def test_times_outside_what_a_datetime_holds_are_a_400(client, arena, route):
    cast(arena, 2)
    for param in ("since", "until"):
        for value in OUT_OF_RANGE:
            r = client.get(route, params={param: value})
            assert r.status_code == 400, (param, value, r.text)
            message = r.json()["error"]["message"]
            assert param in message and "between the years 1 and 9999" in message, message


@pytest.mark.parametrize("route", API_ROUTES)
def test_the_first_and_last_representable_times_still_work(client, arena, route):
    cast(arena, 2)
    for since, until in zip(EDGES[:2], EDGES[2:], strict=True):
        r = client.get(route, params={"since": since, "until": until})
        assert r.status_code == 200, r.text
        if route.endswith("/leaderboard"):
            assert r.json()["votes"] == 2


def test_the_leaderboard_page_takes_no_window_and_ignores_one(client, arena):
    cast(arena, 2)
    for param in ("since", "until"):
        for value in OUT_OF_RANGE:
            r = client.get(PAGE, params={param: value}, headers=HTML)
            assert r.status_code == 200 and 'id="leaderboard"' in r.text, (param, value)


def test_viewing_leaderboards_writes_no_rating_snapshot(client, arena):
    """The client's app would snapshot at every chance (interval 0); only its background task may."""
    cast(arena)
    for method in leaderboards.METHODS:
        assert client.get(API_ROUTES[0], params={"method": method}).status_code == 200
        assert client.get(PAGE, params={"method": method}, headers=HTML).status_code == 200
    assert snapshot_rows(arena) == 0
    assert client.get(f"/api/v1/studies/{STUDY}/ratings").json()["points"] == []


def test_the_snapshot_the_background_task_takes_fills_the_history(client, arena):
    cast(arena)
    assert leaderboards.snapshot_if_due(arena, STUDY, 0) == list(leaderboards.METHODS)  # what the loop calls
    for method in leaderboards.METHODS:
        points = client.get(f"/api/v1/studies/{STUDY}/ratings", params={"method": method}).json()["points"]
        board = client.get(API_ROUTES[0], params={"method": method}).json()
        latest = {p["model"]: p["rating"] for p in points if p["at"] == points[-1]["at"]}
        assert latest == pytest.approx({r["model"]: r["rating"] for r in board["rows"]})
    page = client.get(PAGE, headers=HTML).text
    assert "<polyline" in page and "No rating history yet" not in page


def test_the_background_task_snapshots_while_nobody_views(arena):
    """The server's own loop, started by the app, writes the history with a short interval."""
    from fastapi.testclient import TestClient

    from imagearena.web.app import create_app

    cast(arena)
    app = create_app(arena.settings, arena=arena, snapshot_interval_s=0, background_snapshots=True)
    with TestClient(app):
        deadline = time.monotonic() + 60  # the loop wakes once a second; this only bounds a hang
        while snapshot_rows(arena) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert snapshot_rows(arena) > 0
    assert {p.model for p in leaderboards.rating_history(arena, STUDY, "bt")} == {"alpha", "beta", "gamma"}
