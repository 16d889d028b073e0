"""Automatic arenas on a real database: a judge decides the matches people decided (pairs and order4
rounds), its decisions are stored beside theirs without touching their leaderboard, a rerun asks
about new matches only, and the automatic board's tau and Spearman match an independent computation."""

from __future__ import annotations

import pytest
from scipy.stats import kendalltau, spearmanr
from seeding import PROMPTS, STUDY, seed_study
from test_agreement_study import FOUR, FOUR_MODELS, RANK, claims, store_scores

from imagearena.arena.judging import automatic_board, judge_study, judges_of
from imagearena.arena.leaderboards import leaderboard, parse_time
from imagearena.errors import InputError
from imagearena.generators.config import GeneratorConfig
from imagearena.judges import JudgeImage, Verdict
from imagearena.judges.scorer import ScorerJudge

# (left, right, prompt, winner): people prefer alpha > beta > gamma, but once beta over alpha
HUMAN = [
    ("alpha", "beta", PROMPTS[0], "model_a"),
    ("beta", "alpha", PROMPTS[1], "model_a"),  # the judge (by RANK) says alpha: opposite
    ("alpha", "gamma", PROMPTS[0], "model_a"),
    ("gamma", "beta", PROMPTS[2], "model_b"),
    ("alpha", "gamma", PROMPTS[1], "tie"),  # the judge says alpha: differs, not opposite
    ("beta", "gamma", PROMPTS[3], "model_a"),
    ("gamma", "alpha", PROMPTS[3], "model_b"),  # undone below: never judged
]


def rank_judge(name: str = "rank") -> ScorerJudge:
    return ScorerJudge(GeneratorConfig(name=name, backend="scorer", model="rank"))


@pytest.fixture
def voted(arena):
    from imagearena.media import MediaStore
    from imagearena.storage.matches import MatchVote, insert_match_votes, insert_undo

    with arena.session() as s:
        seed_study(s, MediaStore(arena.settings.media_dir), FOUR, FOUR_MODELS, PROMPTS[:2])
        items = [
            MatchVote(claims(s, STUDY, (a, b), p, bytes([k]) * 12), winner=w, voter="v1")
            for k, (a, b, p, w) in enumerate(HUMAN)
        ]
        items.append(
            MatchVote(claims(s, FOUR, FOUR_MODELS, PROMPTS[0], b"r" * 12), "", "v1", ranks=(2, 1, 4, 2))
        )
        items.append(
            MatchVote(claims(s, FOUR, FOUR_MODELS, PROMPTS[1], b"s" * 12), "", "v2", ranks=(1, 2, 3, 4))
        )
        insert_match_votes(s, items)
        insert_undo(s, (bytes([len(HUMAN) - 1]) * 12).hex())
        for study in (STUDY, FOUR):
            store_scores(s, study, "rank", RANK.__getitem__)
        s.commit()
    return arena


def _votes(arena, study: str, judge: str) -> list:
    from imagearena.storage.studies import get_study
    from imagearena.storage.votes import iter_rounds, iter_votes

    with arena.read_session() as s:
        row = get_study(s, study)
        return [
            *iter_votes(s, row.id, row.epoch, judge=judge),
            *iter_rounds(s, row.id, row.epoch, judge=judge),
        ]


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_judging_pairs_is_stored_apart_and_idempotent(voted, make_arena):
    before = {m: leaderboard(voted, STUDY, m).rows for m in ("elo", "bt", "trueskill")}
    run = judge_study(voted, STUDY, rank_judge())
    assert (run.judged, run.already, run.failed) == (6, 0, [])
    stored = sorted((v.model_a, v.model_b, v.winner) for v in _votes(voted, STUDY, "rank"))
    # the judge prefers the model RANK scores higher in every match people decided (the undone one left out)
    expected = sorted((a, b, "model_a" if RANK[a] > RANK[b] else "model_b") for a, b, _, _ in HUMAN[:-1])
    assert stored == expected
    # people's leaderboards read people's votes only, before and after
    fresh = make_arena()  # the whole round read again, besides the cached log extended by the tail
    for method, rows in before.items():
        assert leaderboard(voted, STUDY, method).rows == rows
        assert leaderboard(fresh, STUDY, method).rows == rows
        assert leaderboard(voted, STUDY, method, since=parse_time("2000-01-01", "since")).rows == rows
    assert len(_votes(voted, STUDY, "human")) == 6
    again = judge_study(voted, STUDY, rank_judge())
    assert (again.judged, again.already) == (0, 6)
    assert len(_votes(voted, STUDY, "rank")) == 6
    assert judges_of(voted, STUDY) == ["rank"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_four_image_rounds_are_judged_as_rounds(voted):
    run = judge_study(voted, FOUR, rank_judge())
    assert run.judged == 2
    rounds = _votes(voted, FOUR, "rank")
    assert [(r.models, r.ranks) for r in rounds] == [(FOUR_MODELS, (1, 2, 3, 4))] * 2
    board = automatic_board(voted, FOUR, "rank", "bt")
    assert [r.model for r in board.judge_rows] == list(FOUR_MODELS)
    # the first round differs from the judge's order; the second is the judge's order exactly
    assert (board.matches, board.agreed) == (2, 1)
    (worst,) = board.disagreements
    assert worst.human == (2, 1, 4, 2) and worst.judge == (1, 2, 3, 4)
    assert worst.opposite == 2  # (m1, m2) and (m1 vs m4 tie: not opposite), (m3, m4)
    assert [i.model for i in worst.images] == list(FOUR_MODELS)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_automatic_board_tau_and_disagreements(voted):
    judge_study(voted, STUDY, rank_judge())
    board = automatic_board(voted, STUDY, "rank", "bt")
    human = {r.model: r.rating for r in board.human_rows}
    auto = {r.model: r.rating for r in board.judge_rows}
    assert set(human) == set(auto) == {"alpha", "beta", "gamma"}
    models = sorted(human)
    x, y = [human[m] for m in models], [auto[m] for m in models]
    assert board.comparison.kendall_tau == pytest.approx(kendalltau(x, y).statistic)
    assert board.comparison.spearman == pytest.approx(spearmanr(x, y).statistic)
    assert [r.model for r in board.judge_rows] == ["alpha", "beta", "gamma"]
    assert (board.matches, board.agreed, board.judge_votes) == (6, 4, 6)
    first, second = board.disagreements
    assert (first.human, first.judge, first.opposite) == ((1, 2), (2, 1), 1)
    assert [i.model for i in first.images] == ["beta", "alpha"] and first.prompt == PROMPTS[1]
    assert all(len(i.sha256) == 64 for i in first.images)
    assert (second.human, second.judge, second.opposite) == ((1, 1), (1, 2), 0)
    assert first.rationale.startswith("scores ")


class Failing:
    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def judge(self, prompt: str, images: list[JudgeImage]) -> Verdict:
        self.calls += 1
        if self.calls == 2:
            raise InputError("no answer this time")
        return Verdict((1,) * len(images), "even")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_failed_match_is_reported_and_retried(voted):
    judge = Failing()
    run = judge_study(voted, STUDY, judge)
    assert run.judged == 5 and len(run.failed) == 1 and "no answer" in run.failed[0][1]
    retry = judge_study(voted, STUDY, judge)
    assert (retry.judged, retry.already, retry.failed) == (1, 5, [])
    assert {v.winner for v in _votes(voted, STUDY, "flaky")} == {"tie"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fresh_scores_from_the_images(voted):
    """A judge whose scorer has no stored scores scores the images themselves (red channel: gamma is the
    reddest seeded image, alpha the least)."""
    from imagearena.scorers import scorers

    class Red:
        name = "red"

        def score(self, prompts, images):
            return [float(sum(img.convert("RGB").getchannel(0).tobytes())) for img in images]

    scorers.register("test-red", lambda **_: Red())
    judge = ScorerJudge(GeneratorConfig(name="red-judge", backend="scorer", model="test-red"))
    assert judge_study(voted, STUDY, judge).judged == 6
    board = automatic_board(voted, STUDY, "red-judge", "bt")
    assert [r.model for r in board.judge_rows] == ["gamma", "beta", "alpha"]


def test_human_is_no_judge_name(arena):
    with pytest.raises(InputError):
        judge_study(arena, STUDY, rank_judge("human"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_judge_and_export(voted, tmp_path):
    import json

    from typer.testing import CliRunner

    from imagearena.cli import app
    from imagearena.scorers import scorers

    scorers.register("rank", lambda **_: pytest.fail("stored scores are enough"))
    where = ["--db", voted.settings.database_url, "--data-dir", str(voted.settings.data_dir)]
    runner = CliRunner()
    result = runner.invoke(app, ["judge", "--study", STUDY, "--judge", "rank", "--format", "json", *where])
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert (board["judge"], board["matches"], board["agreed"]) == ("rank", 6, 4)
    assert [r["model"] for r in board["judge_rows"]] == ["alpha", "beta", "gamma"]
    again = runner.invoke(app, ["judge", "--study", STUDY, "--judge", "rank", "--top", "1", *where])
    assert (
        again.exit_code == 0
        and "Kendall tau" in again.stdout
        and "judged 0 matches now, 6 before" in again.stderr
    )
    out = tmp_path / "prefs"
    export = runner.invoke(
        app,
        [
            "export",
            "preferences",
            "--study",
            STUDY,
            "--format",
            "trl",
            "--images",
            "path",
            "--out",
            str(out),
            *where,
        ],
    )
    assert export.exit_code == 0, export.output
    # six human decisions (the judge's six are not exported), the tie without a chosen image left out
    assert "Wrote 5 rows from 6 decisions" in export.stdout and "(1 left out)" in export.stdout
    unknown = runner.invoke(app, ["judge", "--study", STUDY, "--judge", "no-such", *where])
    assert unknown.exit_code != 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_web_page_and_json(voted, make_client):
    judge_study(voted, STUDY, rank_judge())
    client = make_client(voted)
    assert client.get(f"/api/v1/studies/{STUDY}/judges").json()["judges"] == ["rank"]
    data = client.get(f"/api/v1/studies/{STUDY}/judges/rank", params={"method": "elo", "top": 1}).json()
    assert [r["model"] for r in data["automatic"]] == ["alpha", "beta", "gamma"]
    assert (data["matches"], data["agreed"], data["method"]) == (6, 4, "elo")
    (worst,) = data["disagreements"]
    assert [i["model"] for i in worst["images"]] == ["beta", "alpha"]
    assert client.get(worst["images"][0]["image_url"]).status_code == 200
    page = client.get(f"/judges/{STUDY}/rank")
    assert page.status_code == 200
    assert (
        'id="judge-board"' in page.text and "Kendall tau" in page.text and 'id="disagreements"' in page.text
    )
    board_page = client.get(f"/leaderboard/{STUDY}", params={"method": "trueskill"})
    assert f'href="/judges/{STUDY}/rank?method=trueskill"' in board_page.text
    assert "Automatic arenas" not in client.get(f"/leaderboard/{FOUR}").text
    assert client.get(f"/judges/{STUDY}/rank", params={"method": "nope"}).status_code == 400
    assert client.get(f"/api/v1/studies/{STUDY}/judges/nobody").status_code == 404
    assert client.get("/judges/nope/rank").status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_vlm_judge_end_to_end(voted, monkeypatch):
    """The openai-vlm judge against a stub chat server: every human-decided match is sent with its
    stored images in display order, and the answers and rationales are stored."""
    import base64
    import hashlib

    from stub_server import Reply, StubServer

    from imagearena.judges.config import create_judge, parse_entry

    monkeypatch.setenv("TEST_VLM_KEY", "sk-vlm-test")
    with StubServer() as stub:
        answer = {"choices": [{"message": {"content": '{"winner": "left", "rationale": "the left one"}'}}]}
        stub.add("POST", "/v1/chat/completions", Reply(200, answer))
        entry = {
            "backend": "openai-vlm",
            "model": "v",
            "base_url": stub.url + "/v1",
            "api_key_env": "TEST_VLM_KEY",
        }
        run = judge_study(voted, STUDY, create_judge(parse_entry("vlm", entry)))
        assert run.judged == 6 and len(stub.requests) == 6
        sent = stub.requests[0].json()["messages"][1]["content"]
        urls = [p["image_url"]["url"] for p in sent if p["type"] == "image_url"]
    digests = [hashlib.sha256(base64.b64decode(u.partition(",")[2])).hexdigest() for u in urls]
    board = automatic_board(voted, STUDY, "vlm", "bt")
    assert {v.winner for v in _votes(voted, STUDY, "vlm")} == {"model_a"}
    first = next(d for d in board.disagreements if d.match_id == min(d.match_id for d in board.disagreements))
    assert first.rationale == "the left one"
    from imagearena.storage.judging import decided_matches, image_files
    from imagearena.storage.studies import get_study

    with voted.read_session() as s:
        row = get_study(s, STUDY)
        match = decided_matches(s, row.id, row.epoch)[0]
        files = image_files(s, match.images)
    assert digests == [files[i].sha256 for i in match.images]
