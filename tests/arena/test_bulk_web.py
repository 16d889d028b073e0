"""The study and leaderboard pages of a bulk study show its automatic leaderboard (per scorer, each
generator's mean with its 95% interval and Bradley-Terry, and the per-category means) from the stored
scores; other studies' pages do not."""

from __future__ import annotations

import re

import bulk_helpers
import pytest
from bulk_helpers import COUNTING_BACKEND, Brightness, Redness
from seeding import STUDY

from imagearena.arena.bulk import BulkPrompt, make_plan, run_bulk
from imagearena.generators.config import parse_entry

HTML = {"accept": "text/html"}


@pytest.fixture(autouse=True)
def counting():
    with bulk_helpers.plugins():
        yield


def test_a_bulk_studys_pages_show_its_automatic_leaderboard(make_arena, make_client):
    arena = make_arena()
    generators = [
        parse_entry(name, {"backend": COUNTING_BACKEND, "style": name, "size": "24x24"})
        for name in ("crisp", "glitchy")
    ]
    prompts = [BulkPrompt("a red circle", "shapes"), BulkPrompt("a blue sea", "scenes")]
    plan = make_plan("auto", prompts, generators, [Brightness.name, Redness.name], images_per_prompt=2)
    report = run_bulk(arena.settings, plan)
    client = make_client(arena)

    for url in ("/studies/auto", "/leaderboard/auto"):
        page = client.get(url, headers=HTML).text
        assert 'id="bulk-leaderboard"' in page, url
        for board in report.boards:
            table = re.search(
                rf'<table class="board bulk-board" data-scorer="{board.scorer}">(.*?)</table>', page, re.S
            )
            assert table is not None, (url, board.scorer)
            shown = re.findall(
                r'data-model="([^"]+)">\s*<td class="model">[^<]*</td>\s*<td class="num">([^<]+)</td>',
                table.group(1),
            )
            assert shown == [(g, f"{m.mean:.4f}") for g, m in board.ranked]
            assert f"[{board.means['crisp'].lower:.4f}, {board.means['crisp'].upper:.4f}]" in table.group(1)
        assert 'class="board bulk-categories"' in page and "<td>scenes</td>" in page

    api = client.get("/api/v1/studies/auto/bulk").json()
    assert api["kind"] == "bulk" and [b["scorer"] for b in api["scorers"]] == [
        b.scorer for b in report.boards
    ]
    for out, board in zip(api["scorers"], report.boards, strict=True):
        assert [(g["generator"], g["mean"], g["lower"]) for g in out["generators"]] == [
            (g, m.mean, m.lower) for g, m in board.ranked
        ]
        assert out["categories"]["shapes"]["crisp"]["mean"] == board.categories["shapes"]["crisp"].mean

    human = client.get(f"/studies/{STUDY}", headers=HTML).text
    assert "bulk-leaderboard" not in human
    assert client.get(f"/api/v1/studies/{STUDY}/bulk").json()["scorers"] == []
    assert client.get("/api/v1/studies/nope/bulk").status_code == 404
    bulk_helpers.reset()
