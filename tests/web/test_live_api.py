"""The live rounds API: start a round, follow it to its match, vote; the admins' settings (JSON and the
study page's form); errors in the shared shape, and no API key in any answer or log."""

from __future__ import annotations

import base64
import time

import pytest
from live_helpers import KEY, STYLES, counts, live_stub, media_files, png
from stub_server import Reply

PROCS = [f"proc-{s}" for s in STYLES]


stub = pytest.fixture(live_stub, name="stub")


@pytest.fixture
def live_client(make_client, stub):
    return make_client(prompt_deny_terms="forbidden")


def admin(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.app.state.arena.admin_token}"}


def new_live_study(client, name="live1", round_type="pair", generators=PROCS, **settings):
    created = client.post(
        "/api/v1/studies", json={"name": name, "round_type": round_type}, headers=admin(client)
    )
    assert created.status_code == 201, created.text
    answer = client.put(
        f"/api/v1/studies/{name}/live",
        json={"generators": list(generators), **settings},
        headers=admin(client),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def follow(client, job: dict, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while job["state"] == "running" and time.monotonic() < deadline:
        answer = client.get(f"/api/v1/live/{job['job']}", params={"wait": 5, "seen": job["version"]})
        assert answer.status_code == 200, answer.text
        job = answer.json()
    return job


def test_start_follow_and_vote(live_client):
    client = live_client
    settings = new_live_study(client)
    assert settings["enabled"] and settings["generators"] == PROCS and "remote" in settings["available"]
    started = client.post("/api/v1/studies/live1/live", json={"prompt": "a red circle", "voter": "v1"})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["study"] == "live1" and job["round_type"] == "pair" and len(job["images"]) == 2
    assert "generators" not in job and not any(p in started.text for p in PROCS)  # anonymous until the vote
    job = follow(client, job)
    assert job["state"] == "ready", job
    assert [im["state"] for im in job["images"]] == ["done", "done"]
    match = job["match"]
    assert match["prompt"] == "a red circle" and set(match) >= {"token", "images", "left", "right"}
    assert not any(p in str(match) for p in PROCS)
    for image in match["images"]:
        assert client.get(image["image_url"]).status_code == 200
    vote = client.post("/api/v1/votes", json={"token": match["token"], "winner": "tie", "voter": "v1"})
    assert vote.status_code == 201, vote.text
    assert set(vote.json()["models"]) <= set(PROCS)
    board = client.get("/api/v1/studies/live1/leaderboard").json()
    assert board["votes"] == 1 and {r["model"] for r in board["rows"]} == set(vote.json()["models"])
    undone = client.post("/api/v1/undo", json={"token": match["token"], "voter": "v1"})
    assert undone.status_code == 201, undone.text  # the same images again, under a fresh token
    assert undone.json()["match"]["prompt"] == "a red circle" and len(undone.json()["match"]["images"]) == 2
    assert client.get("/api/v1/studies/live1/leaderboard").json()["votes"] == 0


def test_a_failing_backend_is_told_and_nothing_is_kept(live_client, stub, caplog):
    client = live_client
    stub.add("POST", "/v1/images/generations", Reply(401, {"error": {"message": f"bad key {KEY}"}}))
    new_live_study(client, generators=["proc-crisp", "remote"])
    arena = client.app.state.arena
    before, files = counts(arena), media_files(arena)
    job = follow(client, client.post("/api/v1/studies/live1/live", json={"prompt": "a cat"}).json())
    assert job["state"] == "failed" and "match" not in job
    assert "nothing of it was kept" in job["error"] and "failed" in [im["state"] for im in job["images"]]
    assert counts(arena) == before and media_files(arena) == files
    assert KEY not in str(job) and KEY not in caplog.text


def test_refusals_are_4xx_in_the_shared_shape(live_client):
    client = live_client
    new_live_study(client, voter_limit_per_hour=1)
    refused = client.post("/api/v1/studies/live1/live", json={"prompt": "a Forbidden fruit"})
    assert refused.status_code == 400 and "denied term" in refused.json()["error"]["message"]
    assert client.post("/api/v1/studies/nope/live", json={"prompt": "x"}).status_code == 404
    assert client.get("/api/v1/live/not-a-job").status_code == 404
    follow(client, client.post("/api/v1/studies/live1/live", json={"prompt": "a", "voter": "v"}).json())
    limited = client.post("/api/v1/studies/live1/live", json={"prompt": "b", "voter": "v"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.json()["error"]["type"] == "LiveLimitError"
    client.post("/api/v1/studies", json={"name": "plain"}, headers=admin(client))
    assert client.post("/api/v1/studies/plain/live", json={"prompt": "x"}).status_code == 409


def test_settings_need_the_admin_token(live_client):
    client = live_client
    client.post("/api/v1/studies", json={"name": "live1"}, headers=admin(client))
    assert client.put("/api/v1/studies/live1/live", json={"generators": PROCS}).status_code == 403
    assert client.get("/api/v1/studies/live1/live").status_code == 403
    bad = client.put("/api/v1/studies/live1/live", json={"generators": ["nope", "x"]}, headers=admin(client))
    assert bad.status_code == 400 and "no generator entry" in bad.json()["error"]["message"]


def test_pages_the_admin_form_and_the_arena_prompt_box(live_client):
    client = live_client
    client.post("/api/v1/studies", json={"name": "live1"}, headers=admin(client))
    page = client.get("/arena/live1")
    assert 'id="live-form"' not in page.text  # not live yet
    study = client.get("/studies/live1", headers=admin(client))
    assert 'id="live-form-admin"' in study.text and "proc-crisp" in study.text
    saved = client.post(
        "/studies/live1/live",
        data={
            "generators": ["proc-crisp", "proc-blurry"],
            "budget:proc-crisp": "5",
            "budget:proc-blurry": "",
            "voter_limit_per_hour": "3",
            "prompts": "one star\n\ntwo moons\n",
        },
        headers={**admin(client), "Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    settings = client.get("/api/v1/studies/live1/live", headers=admin(client)).json()
    assert settings["generators"] == ["proc-crisp", "proc-blurry"]
    assert settings["daily_budget"] == {"proc-crisp": 5} and settings["voter_limit_per_hour"] == 3
    assert settings["prompts"] == ["one star", "two moons"]
    page = client.get("/arena/live1")
    assert 'id="live-form"' in page.text and 'data-live-url="/api/v1/studies/live1/live"' in page.text


def test_progress_answers_as_soon_as_the_round_changes(live_client, stub):
    """A progress request waits for news, not for its whole wait: a round of a 0.6 s backend is followed
    to its match well before one 10 s wait would have passed."""
    client = live_client
    png_reply = Reply(200, {"data": [{"b64_json": base64.b64encode(png()).decode()}]}, delay=0.6)
    stub.add("POST", "/v1/images/generations", png_reply)
    new_live_study(client, generators=["proc-crisp", "remote"])
    started = time.monotonic()
    job = client.post("/api/v1/studies/live1/live", json={"prompt": "a slow fox"}).json()
    seen = []
    while job["state"] == "running":
        answer = client.get(f"/api/v1/live/{job['job']}", params={"wait": 10, "seen": job["version"]})
        assert answer.json()["version"] > job["version"] or answer.json()["state"] != "running"
        job = answer.json()
        seen.append([im["state"] for im in job["images"]])
    assert job["state"] == "ready" and time.monotonic() - started < 6
    assert any("generating" in states for states in seen)  # the page saw the images being made
    finished = client.get(f"/api/v1/live/{job['job']}", params={"wait": 10, "seen": job["version"]})
    assert finished.json()["state"] == "ready"  # a finished round never waits
