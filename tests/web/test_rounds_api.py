"""Four-image rounds and undo through the JSON API, with the plain-ASGI front on and off: the shapes of
contracts' matches, votes and undos, and a 4xx (never a 500) for every decision that does not fit."""

from __future__ import annotations

import pytest
from roundseed import FIVE, four_image_study
from seeding import STUDY


@pytest.fixture(params=[True, False], ids=["hot-path", "fastapi"])
def client(request, arena, make_client):
    return make_client(arena, hot_path=request.param)


def match(client, study):
    r = client.post(f"/api/v1/studies/{study}/matches")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_best4_match_and_vote_have_the_contract_shapes(client, arena):
    study = four_image_study(arena)
    m = match(client, study)
    assert set(m) == {"study", "token", "prompt", "round_type", "images"}  # no left/right, no names
    assert m["round_type"] == "best4" and len(m["images"]) == 4
    assert len({im["image_url"] for im in m["images"]}) == 4
    assert all(client.get(im["image_url"]).status_code == 200 for im in m["images"])
    assert all(set(im) == {"image_url"} for im in m["images"])
    r = client.post("/api/v1/votes", json={"token": m["token"], "ranks": [2, 2, 1, 2], "voter": "v"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"vote_id", "study", "round_type", "models", "ranks"}
    assert body["round_type"] == "best4" and body["ranks"] == [2, 2, 1, 2] and len(set(body["models"])) == 4
    assert client.post("/api/v1/votes", json={"token": m["token"], "ranks": [2, 2, 1, 2]}).status_code == 409


def test_a_pair_vote_answers_with_models_and_its_old_keys(client):
    m = match(client, STUDY)
    body = client.post("/api/v1/votes", json={"token": m["token"], "winner": "tie"}).json()
    assert set(body) == {"vote_id", "study", "round_type", "models", "winner", "model_a", "model_b"}
    assert body["models"] == [body["model_a"], body["model_b"]] and body["round_type"] == "pair"


BAD_DECISIONS = [
    {"winner": "model_a"},  # a pair's decision on four images
    {},  # neither
    {"winner": "model_a", "ranks": [1, 2, 2, 2]},  # both
    {"ranks": [1, 2, 3, 4]},  # an order is not a best4 pick
    {"ranks": [1, 2, 2]},
    {"ranks": [1, 2, 2, 2, 2]},
    {"ranks": [0, 1, 1, 1]},
    {"ranks": [5, 1, 1, 1]},
    {"ranks": ["1", 2, 2, 2]},
    {"ranks": [True, 2, 2, 2]},
    {"ranks": [1.5, 2, 2, 2]},
    {"ranks": None, "winner": None},
    {"ranks": "1222"},
    {"ranks": {"a": 1}},
    {"ranks": [[1], 2, 2, 2]},
    {"ranks": [10**30, 2, 2, 2]},
]


def test_a_decision_that_does_not_fit_a_best4_round_is_a_400(client, arena):
    study = four_image_study(arena)
    token = match(client, study)["token"]
    for decision in BAD_DECISIONS:
        r = client.post("/api/v1/votes", json={"token": token, **decision})
        assert r.status_code == 400, (decision, r.text)
        assert r.json()["error"]["type"] == "InputError"
    ok = client.post("/api/v1/votes", json={"token": token, "ranks": [1, 1, 1, 1]})
    assert ok.status_code == 201  # one bad request never hurts another: the token still works


def test_ranks_on_a_pair_round_are_a_400(client):
    token = match(client, STUDY)["token"]
    r = client.post("/api/v1/votes", json={"token": token, "ranks": [1, 2, 2, 2]})
    assert r.status_code == 400 and "send winner" in r.json()["error"]["message"]


def test_a_study_that_cannot_make_a_four_image_round_is_a_409(client, arena):
    study = four_image_study(arena, name="three", models=FIVE[:3])
    r = client.post(f"/api/v1/studies/{study}/matches")
    assert r.status_code == 409 and r.json()["error"]["type"] == "ConflictError"


def test_a_study_is_created_with_its_round_type(client, admin_headers):
    r = client.post("/api/v1/studies", json={"name": "o4", "round_type": "order4"}, headers=admin_headers)
    assert r.status_code == 201 and r.json()["round_type"] == "order4"
    bad = client.post("/api/v1/studies", json={"name": "b5", "round_type": "best5"}, headers=admin_headers)
    assert bad.status_code == 400


def test_undo_answers_a_fresh_match_of_the_same_images_then_404_and_409(client, arena):
    study = four_image_study(arena, round_type="order4")
    m = match(client, study)
    cast = client.post("/api/v1/votes", json={"token": m["token"], "ranks": [1, 2, 2, 4]}).json()
    r = client.post("/api/v1/undo", json={"token": m["token"], "voter": "v"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["undone"] == cast["vote_id"] and body["study"] == study
    again = body["match"]
    assert set(again) == {"study", "token", "prompt", "round_type", "images"} and again["token"] != m["token"]
    assert again["prompt"] == m["prompt"] and again["round_type"] == "order4"
    shown = [client.get(im["image_url"]).content for im in m["images"]]
    assert [client.get(im["image_url"]).content for im in again["images"]] == shown  # same order
    assert client.post("/api/v1/undo", json={"token": m["token"]}).status_code == 409
    assert client.post("/api/v1/undo", json={"token": again["token"]}).status_code == 404
    redo = client.post("/api/v1/votes", json={"token": again["token"], "ranks": [4, 3, 2, 1]})
    assert redo.status_code == 201 and redo.json()["models"] == cast["models"]
    board = client.get(f"/api/v1/studies/{study}/leaderboard").json()
    assert board["votes"] == 6


def test_malformed_undos_are_a_400(client):
    for body in (
        {},
        {"token": 5},
        {"token": "x" * 300},
        {"token": "abc"},
        {"token": "a", "voter": "v" * 101},
        [],
    ):
        r = client.post("/api/v1/undo", json=body)
        assert r.status_code == 400, (body, r.text)
