"""`imagearena agreement`: the ImageReward Table 3 protocol from score files and from a scorer, a
study's agreement from stored scores, the three output formats, and clean errors."""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from seeding import PROMPTS, STUDY
from typer.testing import CliRunner

from imagearena.cli import app
from imagearena.errors import InputError


def invoke(*args: object):
    return CliRunner().invoke(app, ["agreement", *map(str, args)])


def ok(*args: object) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def table3(items: list[dict], score) -> tuple[int, int]:
    """The paper's loop, independent of the package: pairs with different ranks, right when the
    better-ranked image scores strictly higher."""
    right = total = 0
    for item in items:
        s = [score(g) for g in item["generations"]]
        r = item["ranking"]
        for i, j in itertools.combinations(range(len(r)), 2):
            if r[i] != r[j]:
                total += 1
                better, worse = (i, j) if r[i] < r[j] else (j, i)
                right += s[better] > s[worse]
    return right, total


@pytest.fixture
def rankings(shared_data) -> Path:
    return shared_data / "imagereward-test.json"


def test_table3_from_score_files(rankings, tmp_path):
    items = json.loads(rankings.read_text(encoding="utf-8"))
    rng = np.random.default_rng(4)
    # one decimal: many equal scores (a scorer tie is wrong); paths with the images' folder in front
    values = {
        g: round(float(rng.normal()) - 0.2 * r, 1)
        for it in items
        for g, r in zip(it["generations"], it["ranking"], strict=True)
    }
    rows = [
        {"image": f"/data/ir/{g}", "prompt": "p", "score": v, "components": {}, "rank": 1}
        for g, v in values.items()
    ]
    as_json = tmp_path / "ir.json"
    as_json.write_text(json.dumps(rows))
    as_jsonl = tmp_path / "other.jsonl"  # JSONL with the paths as test.json writes them
    as_jsonl.write_text(
        "".join(json.dumps({**r, "image": r["image"][len("/data/ir/") :]}) + "\n" for r in rows)
    )
    right, total = table3(items, values.__getitem__)
    assert total == 6399

    out = json.loads(
        ok("--rankings", rankings, "--scores", as_json, "--scores", f"again={as_jsonl}", "-f", "json")
    )
    assert out["protocol"] == "imagereward-table3" and out["pairs"] == 6399 and out["human"] is None
    assert [s["scorer"] for s in out["scorers"]] == ["ir", "again"]
    for s in out["scorers"]:
        assert (s["correct"], s["n"], s["unscored"]) == (right, total, 0)
        assert s["lower"] < right / total < s["upper"]
    lines = list(csv.DictReader(io.StringIO(ok("--rankings", rankings, "--scores", as_json, "-f", "csv"))))
    assert [(r["scorer"], r["part"], int(r["correct"]), int(r["n"])) for r in lines] == [
        ("ir", "all", right, total)
    ]
    table = ok("--rankings", rankings, "--scores", as_json)
    assert "6399 pairs" in table and f"{100 * right / total:.2f}" in table

    # images without a score leave their pairs out, counted, and a note says so
    dropped = {items[0]["generations"][0], items[5]["generations"][1]}
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps([r for r in rows if r["image"][len("/data/ir/") :] not in dropped]))
    left_out = sum(
        1
        for it in items
        for i, j in itertools.combinations(range(len(it["ranking"])), 2)
        if it["ranking"][i] != it["ranking"][j] and {it["generations"][i], it["generations"][j]} & dropped
    )
    result = invoke("--rankings", rankings, "--scores", partial, "-f", "json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["scorers"][0]
    assert left_out > 0 and (got["n"], got["unscored"]) == (total - left_out, left_out)
    assert f"partial: {left_out} pairs left out" in result.stderr


def test_table3_with_a_scorer_on_image_files(tmp_path, monkeypatch):
    """A scorer from the registry scores the files under --images: here the red channel, with the
    images made redder for better ranks except one prompt, so the count is known."""
    from imagearena.scorers import scorers

    class Redness:
        name = "redness"

        def score(self, prompts, images):
            return [float(np.asarray(im.convert("RGB"))[..., 0].mean()) for im in images]

    monkeypatch.setitem(scorers._factories, "redness", lambda **kwargs: Redness())
    items = [
        {
            "id": "a",
            "prompt": "a cat",
            "generations": ["a/1.png", "a/2.png", "a/3.png"],
            "ranking": [1, 2, 2],
        },
        {"id": "b", "prompt": "a dog", "generations": ["b/1.png", "b/2.png"], "ranking": [2, 1]},
        {
            "id": "c",
            "prompt": "a cow",
            "generations": ["c/1.png", "c/2.png", "c/3.png"],
            "ranking": [1, 2, 3],
        },
    ]
    red = {
        "a/1.png": 200,
        "a/2.png": 100,
        "a/3.png": 100,
        "b/1.png": 50,
        "b/2.png": 50,
        "c/1.png": 10,
        "c/2.png": 20,
        "c/3.png": 30,
    }
    for path, value in red.items():
        (tmp_path / "imgs" / path).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16), (value, 0, 0)).save(tmp_path / "imgs" / path)
    rankings = tmp_path / "test.json"
    rankings.write_text(json.dumps(items))
    out = json.loads(
        ok(
            "--rankings",
            rankings,
            "--images",
            tmp_path / "imgs",
            "--scorer",
            "redness",
            "-f",
            "json",
            "--workers",
            0,
        )
    )
    # a: 2 pairs right (200 > 100 twice; the tied ranks are skipped); b: a scorer tie, wrong; c: 3 wrong
    assert (out["scorers"][0]["correct"], out["scorers"][0]["n"]) == (2, 6) == table3(items, red.__getitem__)


def _vote(settings, pairs) -> None:
    """Pair votes (left model, right model, prompt, winner, voter) on served matches, and a stored
    `rank` score preferring alpha > beta > gamma."""
    from imagearena.storage import catalog, studies
    from imagearena.storage.engine import make_engine, make_sessionmaker
    from imagearena.storage.matches import MatchClaims, MatchVote, insert_match_votes
    from imagearena.storage.scores import set_score

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as s:
            row = studies.get_study(s, STUDY)
            images = {(i.model.name, i.prompt.text): i for i in catalog.list_images(s, row)}
            items = []
            for k, (a, b, prompt, winner, voter) in enumerate(pairs):
                left, right = images[(a, prompt)], images[(b, prompt)]
                claims = MatchClaims(
                    row.id,
                    0,
                    left.prompt_id,
                    left.id,
                    right.id,
                    left.model_id,
                    right.model_id,
                    int(time.time()),
                    bytes([k]) * 12,
                )
                items.append(MatchVote(claims, winner, voter))
            insert_match_votes(s, items)
            for (model, _), image in images.items():
                set_score(s, image, "rank", {"alpha": 3.0, "beta": 2.0, "gamma": 1.0}[model])
            s.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_study_from_stored_scores(seeded, tmp_path):
    _vote(
        seeded,
        [
            ("alpha", "beta", PROMPTS[0], "model_a", "v1"),
            ("beta", "alpha", PROMPTS[0], "model_b", "v2"),
            ("gamma", "beta", PROMPTS[1], "model_a", "v1"),
            ("gamma", "beta", PROMPTS[2], "tie", "v1"),
        ],
    )
    categories = tmp_path / "cats.tsv"
    categories.write_text(f"Prompt\tCategory\n{PROMPTS[0]}\tShapes\n{PROMPTS[1]}\tBalls\n")
    db = ("--db", seeded.database_url, "--data-dir", seeded.data_dir)
    out = json.loads(
        ok(
            "--study",
            STUDY,
            "--scorer",
            "rank",
            "--tie-margin",
            "0.5",
            "--categories",
            categories,
            *db,
            "-f",
            "json",
        )
    )
    rank = out["scorers"][0]
    assert (rank["correct"], rank["n"], rank["tie_margin"]) == (2, 3, 0.5)
    assert (rank["ties"]["correct"], rank["ties"]["n"]) == (0, 1)  # gamma and beta are 1 apart
    assert {g["group"]: g["correct"] for g in rank["breakdowns"]["category"]} == {"Shapes": 2, "Balls": 0}
    assert (out["human"]["correct"], out["human"]["n"]) == (2, 2)  # v1 and v2 agree on alpha
    table = ok("--study", STUDY, "--scorer", "rank", *db)
    assert "66.67" in table and "By model pair" in table and "(two voters)" in table
    missing = invoke("--study", STUDY, "--scorer", "rank,clip", *db)
    assert isinstance(missing.exception, InputError) and "--score-missing" in str(missing.exception)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one"),
        (("--study", "s", "--rankings", "r.json"), "exactly one"),
        (("--study", "s"), "--scorer"),
        (("--study", "s", "--scorer", "x", "--scores", "f.json"), "--scores go with --rankings"),
        (("--rankings", "r.json", "--scorer", "x"), "--images"),
        (
            ("--rankings", "r.json", "--score-missing", "--scores", "f.json"),
            "--score-missing go with --study",
        ),
        (("--study", "s", "--scorer", "x", "--tie-margin", "wide"), "--tie-margin"),
        (("--rankings", "missing.json", "--scores", "f.json"), "cannot read missing.json"),
    ],
)
def test_mistakes_are_one_line_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert isinstance(result.exception, InputError), result.output
    assert message in str(result.exception)
