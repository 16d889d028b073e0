"""`imagearena rate` on an exported battle log of a four-image study: the log's round_id column makes
each round one multi-way TrueSkill update, so the ratings equal the server's leaderboard."""

from __future__ import annotations

import json
import random

import pytest
from roundseed import four_image_study
from typer.testing import CliRunner

from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote
from imagearena.cli import app


def _rate(path, method: str) -> dict[str, tuple[float, float, float]]:
    result = CliRunner().invoke(app, ["rate", str(path), "-m", method, "-f", "json"])
    assert result.exit_code == 0, result.output
    return {r["model"]: (r["rating"], r["lower"], r["upper"]) for r in json.loads(result.stdout)}


@pytest.mark.parametrize("round_type", ["best4", "order4"])
def test_rating_an_exported_log_gives_the_servers_trueskill(client, arena, tmp_path, round_type):
    study = four_image_study(arena, round_type=round_type)
    rng = random.Random(3)
    for n in range(14):
        match = serve_match(arena, study)
        if round_type == "best4":
            ranks = [1, 1, 1, 1] if n % 5 == 4 else [2, 2, 2, 2]
            if n % 5 != 4:
                ranks[rng.randrange(4)] = 1
        else:
            ranks = rng.choice([[1, 2, 3, 4], [4, 3, 2, 1], [1, 2, 2, 4], [2, 1, 4, 3]])
        record_vote(arena, match.token, ranks=ranks)
    undone = serve_match(arena, study).token  # an undone round counts nowhere
    record_vote(arena, undone, ranks=[1, 2, 2, 2] if round_type == "best4" else [1, 2, 3, 4])
    assert client.post("/api/v1/undo", json={"token": undone}).status_code == 201

    board = client.get(f"/api/v1/studies/{study}/leaderboard", params={"method": "trueskill"}).json()
    server = {r["model"]: (r["rating"], r["lower"], r["upper"]) for r in board["rows"]}
    for ext in ("csv", "jsonl"):
        path = tmp_path / f"votes.{ext}"
        path.write_bytes(client.get(f"/api/v1/studies/{study}/votes.{ext}").content)
        rated = _rate(path, "trueskill")
        assert rated.keys() == server.keys()
        for model, values in server.items():
            assert rated[model] == pytest.approx(values, abs=1e-9), (ext, model)
    # the same log without its round ids is read as independent pairs: a different (wrong) answer
    lines = [json.loads(line) for line in (tmp_path / "votes.jsonl").read_text().splitlines()]
    flat = tmp_path / "flat.jsonl"
    flat.write_text("".join(json.dumps({**x, "round_id": None}) + "\n" for x in lines))
    pairs = _rate(flat, "trueskill")
    assert max(abs(pairs[m][0] - server[m][0]) for m in server) > 0.01
