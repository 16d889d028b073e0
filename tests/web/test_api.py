"""Every /api/v1 endpoint through the in-process ASGI client, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from seeding import MODELS, PROMPTS, STUDY


def match(client, study=STUDY):
    r = client.post(f"/api/v1/studies/{study}/matches")
    assert r.status_code == 200, r.text
    return r.json()


def vote(client, token, winner="model_a", **extra):
    return client.post("/api/v1/votes", json={"token": token, "winner": winner, **extra})


def test_list_studies(client):
    body = client.get("/api/v1/studies").json()
    (study,) = body["studies"]
    assert {k: study[k] for k in ("name", "models", "prompts", "images", "votes", "epoch")} == {
        "name": STUDY,
        "models": 3,
        "prompts": 4,
        "images": 12,
        "votes": 0,
        "epoch": 0,
    }


def test_match_has_prompt_and_two_images_but_no_model_names(client):
    m = match(client)
    assert set(m) == {"study", "token", "prompt", "round_type", "images", "left", "right"}
    assert m["round_type"] == "pair" and m["images"] == [m["left"], m["right"]]
    assert set(m["left"]) == {"image_url"} and set(m["right"]) == {"image_url"}
    assert m["left"]["image_url"] != m["right"]["image_url"]
    text = json.dumps(m)
    assert not any(name in text for name in MODELS)
    image = client.get(m["left"]["image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert image.headers["cache-control"].startswith("private")  # a per-match name, see test_match_media


def test_vote_reveals_models_then_replay_conflicts(client):
    m = match(client)
    r = vote(client, m["token"], "model_b", voter="someone")
    assert r.status_code == 201
    body = r.json()
    assert body["winner"] == "model_b" and body["study"] == STUDY
    assert body["model_a"] != body["model_b"] and {body["model_a"], body["model_b"]} <= set(MODELS)
    again = vote(client, m["token"], "model_a")
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "ConflictError"
    assert client.get("/api/v1/studies").json()["studies"][0]["votes"] == 1


def test_bad_and_forged_tokens(client):
    from imagearena.arena.tokens import TokenSigner

    forged, _ = TokenSigner(b"z" * 32).issue(
        study_id=1, epoch=0, prompt_id=1, left_image_id=1, right_image_id=2, model_a_id=1, model_b_id=2
    )
    r = vote(client, forged)
    assert r.status_code == 403 and "not issued by this server" in r.json()["error"]["message"]
    r = vote(client, "not-a-token")
    assert r.status_code == 400 and r.json()["error"]["type"] == "InputError"
    r = vote(client, match(client)["token"], "left")
    assert r.status_code == 400 and "winner" in r.json()["error"]["message"]
    r = client.post("/api/v1/votes", json={"winner": "tie"})
    assert r.status_code == 400 and "token" in r.json()["error"]["message"]
    r = client.post("/api/v1/votes", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert client.get("/api/v1/studies").json()["studies"][0]["votes"] == 0


def test_unknown_study_is_404(client):
    r = client.post("/api/v1/studies/nope/matches")
    assert r.status_code == 404 and "unknown study 'nope'" in r.json()["error"]["message"]
    for path in ("", "/leaderboard", "/history", "/votes.jsonl", "/votes.csv", "/winrates", "/ratings"):
        assert client.get(f"/api/v1/studies/nope{path}").status_code == 404, path


def test_concurrent_api_voters(client):
    tokens = [match(client)["token"] for _ in range(60)]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda t: vote(client, t, "tie").status_code, tokens + tokens[:20]))
    assert statuses.count(201) == 60 and statuses.count(409) == 20
    assert client.get(f"/api/v1/studies/{STUDY}/leaderboard").json()["votes"] == 60


@pytest.mark.parametrize("method", ["elo", "trueskill", "bt"])
def test_leaderboard(client, method):
    empty = client.get(f"/api/v1/studies/{STUDY}/leaderboard", params={"method": method}).json()
    assert empty["rows"] == [] and empty["votes"] == 0
    for i in range(8):
        vote(client, match(client)["token"], ["model_a", "model_b", "tie", "both_bad"][i % 4])
    body = client.get(f"/api/v1/studies/{STUDY}/leaderboard", params={"method": method}).json()
    assert body["method"] == method and body["votes"] == 8
    rows = body["rows"]
    assert set(rows[0]) == {
        "model",
        "rating",
        "lower",
        "upper",
        "votes",
        "wins",
        "losses",
        "ties",
        "rank",
        "win_rate",
    }
    assert sum(r["votes"] for r in rows) == 16
    assert sorted(r["rank"] for r in rows)[0] == 1
    if method != "elo":
        assert all(r["lower"] < r["rating"] < r["upper"] for r in rows)
    # the background task's snapshot fills the rating-over-time chart
    from imagearena.arena import leaderboards

    leaderboards.snapshot_if_due(client.app.state.arena, STUDY, 0, methods=(method,))
    points = client.get(f"/api/v1/studies/{STUDY}/ratings", params={"method": method}).json()["points"]
    assert {p["model"] for p in points} == {r["model"] for r in rows}


def test_leaderboard_window_and_bad_parameters(client):
    for _ in range(3):
        vote(client, match(client)["token"])
    url = f"/api/v1/studies/{STUDY}/leaderboard"
    assert client.get(url, params={"since": "2000-01-01"}).json()["votes"] == 3
    assert client.get(url, params={"until": "2000-01-01T00:00:00Z"}).json()["votes"] == 0
    assert client.get(url, params={"since": "4102444800"}).json()["rows"] == []
    r = client.get(url, params={"since": "last tuesday"})
    assert r.status_code == 400 and "since" in r.json()["error"]["message"]
    assert client.get(url, params={"method": "glicko"}).status_code == 400


def test_history_winrates_and_exports(client):
    revealed = []
    for w in ("model_a", "model_b", "tie", "both_bad", "model_a"):
        revealed.append(vote(client, match(client)["token"], w).json())
    hist = client.get(f"/api/v1/studies/{STUDY}/history", params={"limit": 3}).json()["votes"]
    assert [h["id"] for h in hist] == [v["vote_id"] for v in revealed[::-1][:3]]
    assert hist[0]["left"]["image_url"].startswith("/media/") and hist[0]["prompt"]
    assert client.get(hist[0]["right"]["image_url"]).status_code == 200

    w = client.get(f"/api/v1/studies/{STUDY}/winrates").json()
    assert set(w) == {"models", "win_rate", "battles"}
    assert sum(map(sum, w["battles"])) == 10  # each battle counted for both models

    r = client.get(f"/api/v1/studies/{STUDY}/votes.jsonl")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["content-disposition"]
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert [(x["model_a"], x["model_b"], x["winner"]) for x in rows] == [
        (v["model_a"], v["model_b"], v["winner"]) for v in revealed
    ]
    assert {"model_a", "model_b", "winner", "tstamp", "judge"} <= set(rows[0])
    r = client.get(f"/api/v1/studies/{STUDY}/votes.csv")
    assert r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["winner"] for x in table] == [v["winner"] for v in revealed]


def test_admin_actions_need_the_token(client, admin_headers):
    body = {"name": "new-study", "title": "New"}
    assert client.post("/api/v1/studies", json=body).status_code == 403
    assert (
        client.post("/api/v1/studies", json=body, headers={"Authorization": "Bearer wrong"}).status_code
        == 403
    )
    r = client.post("/api/v1/studies", json=body, headers=admin_headers)
    assert r.status_code == 201 and r.json()["name"] == "new-study" and r.json()["models"] == 0
    assert client.post("/api/v1/studies", json=body, headers=admin_headers).status_code == 409
    r = client.post("/api/v1/studies", json={"name": "no spaces"}, headers=admin_headers)
    assert r.status_code == 400
    token = admin_headers["Authorization"].split()[1]
    r = client.post("/api/v1/studies", json={"name": "other"}, headers={"X-Admin-Token": token})
    assert r.status_code == 201
    detail = client.get("/api/v1/studies/new-study").json()
    assert detail["models"] == [] and detail["prompts"] == []
    assert client.post("/api/v1/studies/new-study/matches").status_code == 400  # nothing to compare yet


def test_reset_archives_and_needs_admin(client, admin_headers):
    for _ in range(4):
        vote(client, match(client)["token"])
    assert client.post(f"/api/v1/studies/{STUDY}/reset").status_code == 403
    r = client.post(f"/api/v1/studies/{STUDY}/reset", headers=admin_headers)
    assert r.status_code == 200 and r.json() == {"study": STUDY, "epoch": 1}
    assert client.get(f"/api/v1/studies/{STUDY}/leaderboard").json()["votes"] == 0
    assert client.get(f"/api/v1/studies/{STUDY}/votes.jsonl").text == ""
    archived = client.get(f"/api/v1/studies/{STUDY}/votes.jsonl", params={"archived": "true"}).text
    assert len(archived.splitlines()) == 4
    study = client.get(f"/api/v1/studies/{STUDY}").json()["study"]
    assert (study["votes"], study["archived_votes"], study["epoch"]) == (0, 4, 1)
    m = match(client)
    assert vote(client, m["token"]).status_code == 201


def test_detail_lists_models_and_prompts(client):
    body = client.get(f"/api/v1/studies/{STUDY}").json()
    assert body["models"] == [{"name": n, "images": len(PROMPTS)} for n in sorted(MODELS)]
    assert sorted(body["prompts"]) == sorted(PROMPTS)


def test_import_folder_through_the_api(client, admin_headers, tmp_path):
    from PIL import Image

    folder = tmp_path / "incoming"
    for k, model in enumerate(("delta", "epsilon")):
        (folder / model).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 10 * k, 0)).save(folder / model / "cube.png")
        (folder / model / "cube.txt").write_text("a red cube")
    (folder / "delta" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "delta" / "broken.txt").write_text("a red cube")
    assert client.post(f"/api/v1/studies/{STUDY}/import", json={"folder": str(folder)}).status_code == 403
    r = client.post(f"/api/v1/studies/{STUDY}/import", json={"folder": str(folder)}, headers=admin_headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 2 and report["errors"] == 1 and report["models"] == ["delta", "epsilon"]
    models = {m["name"] for m in client.get(f"/api/v1/studies/{STUDY}").json()["models"]}
    assert {"delta", "epsilon"} <= models
    # the match pool picks the new models up at once
    seen = set()
    for _ in range(80):
        seen |= {vote(client, match(client)["token"]).json()[k] for k in ("model_a", "model_b")}
    assert {"delta", "epsilon"} & seen
    r = client.post("/api/v1/studies/nope/import", json={"folder": str(folder)}, headers=admin_headers)
    assert r.status_code == 404


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, verb in [
        ("/api/v1/studies", "get"),
        ("/api/v1/studies", "post"),
        ("/api/v1/studies/{study}/matches", "post"),
        ("/api/v1/votes", "post"),
        ("/api/v1/studies/{study}/leaderboard", "get"),
        ("/api/v1/studies/{study}/history", "get"),
        ("/api/v1/studies/{study}/votes.jsonl", "get"),
        ("/api/v1/studies/{study}/votes.csv", "get"),
        ("/api/v1/studies/{study}/reset", "post"),
    ]:
        assert verb in paths[path], (path, verb)
    vote_schema = paths["/api/v1/votes"]["post"]
    assert {"201", "400", "403", "409"} <= set(vote_schema["responses"])
    assert not any(p.startswith("/media") or p.startswith("/arena") for p in paths)


def test_openapi_documents_the_prompt_of_a_match_image(client):
    """A folder study's match answers carry each image's own prompt (web.voting.match_json): the schema
    says so, as an optional string, on the images and on left and right."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    match = schemas["MatchOut"]["properties"]
    image = schemas[match["images"]["items"]["$ref"].rsplit("/", 1)[1]]
    prompt = image["properties"]["prompt"]
    assert {"type": "string"} in prompt["anyOf"] and {"type": "null"} in prompt["anyOf"]
    assert prompt["description"] and "prompt" not in image.get("required", [])
    assert image["required"] == ["image_url"]
    for side in ("left", "right"):
        refs = [s.get("$ref") for s in match[side]["anyOf"]]
        assert match["images"]["items"]["$ref"] in refs
