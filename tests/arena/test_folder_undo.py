"""Undo in a folder ranking: the withdrawn decision leaves the rankings and the exported log, the same
images come back under a fresh token, and the decision is kept as a fact (nothing deleted)."""

from __future__ import annotations

import json

from folder_files import make_folder

from imagearena.arena import folder as ranker


def test_an_undone_decision_leaves_rankings_and_log(make_arena, make_client, tmp_path):
    arena = make_arena()
    client = make_client(arena)
    root = tmp_path / "pics"
    make_folder(root, 3)
    study = ranker.open_folder(arena, root).study
    baseline = ranker.ranking_lines(arena, study)

    first = client.post(f"/api/v1/studies/{study}/matches").json()
    kept_vote = client.post("/api/v1/votes", json={"token": first["token"], "winner": "model_a"}).json()
    second = client.post(f"/api/v1/studies/{study}/matches").json()
    client.post("/api/v1/votes", json={"token": second["token"], "winner": "model_b"})
    kept = ranker.ranking_lines(arena, study)
    assert kept != baseline

    undone = client.post("/api/v1/undo", json={"token": second["token"]})
    assert undone.status_code == 201
    again = undone.json()["match"]
    assert [i["image_url"] for i in again["images"]] != [
        i["image_url"] for i in second["images"]
    ]  # fresh names
    after = ranker.ranking_lines(arena, study)
    assert sum(line.comparisons for line in after) == 2  # one pair decision left, two images shown
    assert ranker.folder_state(arena, study).decisions == 1
    log = tmp_path / "log.jsonl"
    assert ranker.export_log(arena, study, log) == 1
    [record] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (record["model_a"], record["model_b"], record["winner"]) == (
        kept_vote["model_a"],
        kept_vote["model_b"],
        "model_a",
    )

    # the same images again: voting on them now counts once more
    assert client.post("/api/v1/votes", json={"token": again["token"], "winner": "tie"}).status_code == 201
    assert ranker.folder_state(arena, study).decisions == 2
