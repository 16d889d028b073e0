"""The plain-ASGI front for next-match and vote answers exactly like the documented FastAPI routes."""

from __future__ import annotations

import json

import pytest
from seeding import STUDY

from imagearena.arena.tokens import TokenSigner


@pytest.fixture
def clients(arena, make_client):
    return make_client(arena, hot_path=True), make_client(arena, hot_path=False)


def shape(response):
    body = response.json()
    if "error" in body:
        return response.status_code, body["error"]["type"], sorted(body["error"])
    return response.status_code, sorted(body)


def test_matches_answer_alike(clients, arena, admin_headers):
    fast, slow = clients
    for path in (f"/api/v1/studies/{STUDY}/matches", "/api/v1/studies/nope/matches"):
        assert shape(fast.post(path)) == shape(slow.post(path))
    slow.post("/api/v1/studies", json={"name": "empty"}, headers=admin_headers)
    a, b = fast.post("/api/v1/studies/empty/matches"), slow.post("/api/v1/studies/empty/matches")
    assert a.status_code == b.status_code == 400 and a.json() == b.json()
    for client in (fast, slow):
        m = client.post(f"/api/v1/studies/{STUDY}/matches")
        assert m.headers["content-type"] == "application/json"
        assert set(m.json()["left"]) == {"image_url"} and m.json()["left"]["image_url"].startswith("/media/match/")
        assert client.get(m.json()["left"]["image_url"]).status_code == 200


def test_votes_answer_alike(clients):
    fast, slow = clients
    forged, _ = TokenSigner(b"q" * 32).issue(
        study_id=1, epoch=0, prompt_id=1, left_image_id=1, right_image_id=2, model_a_id=1, model_b_id=2
    )
    cases = [
        {"token": forged, "winner": "tie"},
        {"token": "garbage", "winner": "tie"},
        {"winner": "tie"},
        {"token": 5, "winner": "tie"},
        {"token": "x.y", "winner": "left"},
        {"token": "x.y"},
        {"token": "x.y", "winner": "tie", "voter": "v" * 101},
        ["not", "an", "object"],
    ]
    for case in cases:
        a, b = fast.post("/api/v1/votes", json=case), slow.post("/api/v1/votes", json=case)
        assert shape(a) == shape(b), case
        assert a.status_code in (400, 403)
    deep = b'{"token": ' + b"[" * 3000 + b"]" * 3000 + b', "winner": "tie"}'  # RecursionError in json
    for raw in (b"{oops", deep, b'{"token": "x", "winner": "tie", "voter": "\\ud800"}'):
        a, b = (c.post("/api/v1/votes", content=raw, headers={"content-type": "application/json"}) for c in clients)
        assert a.status_code == b.status_code == 400 and a.json() == b.json(), raw[:40]
        assert a.json()["error"]["type"] == "InputError"
    for voter in ("nul\x00voter", "lone\ud800surrogate", "bell\x07"):
        answers = []
        for client in (fast, slow):
            token = client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"]
            body = json.dumps({"token": token, "winner": "tie", "voter": voter})
            answers.append(client.post("/api/v1/votes", content=body, headers={"content-type": "application/json"}))
        assert answers[0].status_code == answers[1].status_code == 400
        assert answers[0].json() == answers[1].json(), voter
    for voter in (None, "someone"):
        results = []
        for client in (fast, slow):
            token = client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"]
            payload = {"token": token, "winner": "model_b", **({"voter": voter} if voter else {})}
            first = client.post("/api/v1/votes", json=payload)
            again = client.post("/api/v1/votes", json=payload)
            results.append((shape(first), again.status_code, again.json()))
        assert results[0] == results[1]
        assert results[0][0][0] == 201 and results[0][1] == 409
    assert fast.get(f"/api/v1/studies/{STUDY}/leaderboard").json()["votes"] == 4


def test_other_requests_pass_through(clients):
    fast, _ = clients
    assert fast.get("/api/v1/studies").status_code == 200
    assert fast.post("/api/v1/studies/a/b/matches").status_code == 404
    assert fast.get(f"/api/v1/studies/{STUDY}/matches").status_code == 405


def test_the_front_and_the_routes_build_each_answer_with_one_function():
    """No copy of the routes' bodies in the front: both call web.voting's answer builders."""
    from imagearena.web import api, hotpath, voting

    assert hotpath.answer_match is api.answer_match is voting.answer_match
    assert hotpath.answer_vote is api.answer_vote is voting.answer_vote
    assert hotpath.json_response is api.json_response is voting.json_response
