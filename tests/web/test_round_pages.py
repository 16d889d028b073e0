"""The pages of four-image rounds: a study's round type chosen in the create form and shown on the
study pages, the arena page's controls per round type, and one outcome vocabulary (types.Outcome and
web.pages.OUTCOME_LABELS) instead of outcome names spelled in templates, scripts and styles."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from imagearena.types import Outcome, RoundType
from imagearena.web.app import WEB_DIR
from imagearena.web.pages import OUTCOME_LABELS, ROUND_TITLES

HTML = {"accept": "text/html"}


def _login(client, arena) -> None:
    r = client.post("/admin/login", data={"token": arena.admin_token}, follow_redirects=False)
    assert r.status_code == 303


def test_outcome_names_are_spelled_only_by_the_server():
    """Templates, scripts and styles name outcomes through the server's vocabulary, never by value."""
    values = "|".join(o.value for o in Outcome)
    quoted = re.compile(rf"""["']({values})["']""")
    files = [*(WEB_DIR / "templates").glob("*.html"), *(WEB_DIR / "static").glob("*.[jc]s*")]
    spelled = {f.name: found for f in files if (found := quoted.findall(f.read_text(encoding="utf-8")))}
    assert spelled == {}
    assert set(OUTCOME_LABELS) == set(Outcome) and set(ROUND_TITLES) == set(RoundType)


@pytest.mark.parametrize("round_type", list(RoundType))
def test_the_create_form_sets_the_round_type_and_the_pages_show_it(client, arena, round_type):
    _login(client, arena)
    form = client.get("/studies", headers=HTML).text
    assert re.findall(r'<option value="(\w+)">', form) == [rt.value for rt in RoundType]
    r = client.post("/studies", data={"name": "formed", "round_type": round_type}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/studies/formed").json()["study"]["round_type"] == round_type
    assert f"rounds of {ROUND_TITLES[round_type]}" in client.get("/studies/formed", headers=HTML).text
    listing = client.get("/studies", headers=HTML).text
    assert ROUND_TITLES[round_type] in listing


def test_the_create_form_refuses_an_unknown_round_type(client, arena):
    _login(client, arena)
    r = client.post("/studies", data={"name": "formed", "round_type": "best3"}, headers=HTML)
    assert r.status_code == 400 and "round type" in r.text


@pytest.mark.parametrize(
    ("round_type", "slots", "controls"),
    [
        (RoundType.PAIR, ["left", "right"], ['data-winner="model_a"', 'id="skip"']),
        (RoundType.BEST4, ["1", "2", "3", "4"], ['id="none-best" data-action="none-best" data-keys="0"']),
        (RoundType.ORDER4, ["1", "2", "3", "4"], ['data-keys="="', 'data-keys="backspace"', 'id="submit"']),
    ],
)
def test_the_arena_page_has_the_controls_of_its_round_type(
    client, admin_headers, round_type, slots, controls
):
    body = {"name": "rounds", "round_type": round_type}
    assert client.post("/api/v1/studies", json=body, headers=admin_headers).status_code == 201
    page = client.get("/arena/rounds", headers=HTML).text
    assert re.findall(r'<img id="img-(\w+)"', page) == slots
    assert f'data-round-type="{round_type}"' in page and 'data-state="empty"' in page  # no images yet
    needed = "two" if round_type == RoundType.PAIR else "four"
    assert f"the same prompt from {needed} different models" in page
    for control in controls:
        assert control in page, control
    labels = json.loads(unescape(re.search(r"data-outcomes='([^']*)'", page).group(1)))
    assert labels == {o.value: OUTCOME_LABELS[o] for o in Outcome}
    assert '<script type="module" src="/static/arena.js">' in page


def test_history_words_outcomes_as_the_arena_does(client):
    for winner in (Outcome.MODEL_A, Outcome.BOTH_BAD):
        token = client.post("/api/v1/studies/t2i/matches").json()["token"]
        assert client.post("/api/v1/votes", json={"token": token, "winner": winner}).status_code == 201
    page = client.get("/history/t2i", headers=HTML).text
    assert OUTCOME_LABELS[Outcome.MODEL_A] in page and OUTCOME_LABELS[Outcome.BOTH_BAD] in page
    assert page.count('class="won"') == 1


def _conforms(client, answer: dict) -> None:
    """``answer`` is a HistoryOut as /openapi.json documents it (each item one of its oneOf)."""
    import jsonschema

    components = client.get("/openapi.json").json()["components"]
    schema = {"$ref": "#/components/schemas/HistoryOut", "components": components}
    jsonschema.validate(answer, schema, cls=jsonschema.Draft202012Validator)


def _decide(client, study: str, ranks: list[int]) -> tuple[dict, dict]:
    match = client.post(f"/api/v1/studies/{study}/matches").json()
    vote = client.post("/api/v1/votes", json={"token": match["token"], "ranks": ranks})
    assert vote.status_code == 201
    return match, vote.json()


@pytest.mark.parametrize("round_type", [RoundType.BEST4, RoundType.ORDER4])
def test_history_lists_four_image_rounds_with_their_images_and_ranks(client, arena, round_type):
    """The history API and page list round results, newest first, with the models and images in
    display order and their ranks; an undone round is left out, as the leaderboards leave it out."""
    from roundseed import four_image_study

    study = four_image_study(arena, round_type=round_type)
    decisions = (
        [[2, 1, 2, 2], [1, 1, 1, 1]] if round_type == RoundType.BEST4 else [[1, 3, 2, 4], [2, 1, 2, 4]]
    )
    made = [_decide(client, study, ranks) for ranks in decisions]
    undone, _ = _decide(client, study, decisions[0])
    assert client.post("/api/v1/undo", json={"token": undone["token"]}).status_code == 201

    answer = client.get(f"/api/v1/studies/{study}/history").json()
    _conforms(client, answer)
    items = answer["votes"]
    assert [(h["id"], h["round_type"], h["models"], h["ranks"]) for h in items] == [
        (vote["vote_id"], round_type, vote["models"], vote["ranks"]) for _, vote in made[::-1]
    ]
    for h, (match, _) in zip(items, made[::-1], strict=True):
        assert h["prompt"] == match["prompt"] and h["judge"] == "human" and h["tstamp"]
        shown = [client.get(i["image_url"]).content for i in match["images"]]
        assert [client.get(i["image_url"]).content for i in h["images"]] == shown  # same order

    page = client.get(f"/history/{study}", headers=HTML).text
    rows = re.findall(r'<tr class="round" data-round-type="(\w+)">(.*?)</tr>', page, re.S)
    assert [kind for kind, _ in rows] == [round_type] * 2
    for (_, row), h in zip(rows, items, strict=True):
        srcs = re.findall(r'<img class="thumb" loading="lazy" src="([^"]+)" alt="([^"]+)"', row)
        assert srcs == [(i["image_url"], m) for i, m in zip(h["images"], h["models"], strict=True)]
        badges = [int(b) for b in re.findall(r'<span class="badge"[^>]*>(\d)</span>', row)]
        if round_type == RoundType.ORDER4:
            assert badges == h["ranks"]
        else:
            assert badges == [r for r in h["ranks"] if r == 1]  # the pick only, as the arena marks it
        assert row.count('class="pick winner"') == h["ranks"].count(1)
    assert ("no clear best" in page) == (round_type == RoundType.BEST4)
    assert "<script>" not in page and "style=" not in page  # the CSP allows neither


def test_the_history_of_pairs_says_which_kind_each_item_is(client):
    token = client.post("/api/v1/studies/t2i/matches").json()["token"]
    assert client.post("/api/v1/votes", json={"token": token, "winner": Outcome.TIE}).status_code == 201
    answer = client.get("/api/v1/studies/t2i/history").json()
    _conforms(client, answer)
    (item,) = answer["votes"]
    assert item["round_type"] == RoundType.PAIR and {"left", "right", "winner"} <= set(item)
    assert 'class="round"' not in client.get("/history/t2i", headers=HTML).text


def test_history_merges_pair_votes_and_rounds_newest_first(make_arena, make_client, tmp_path):
    """A folder ranking that changed mode holds both kinds: the history lists them by time, and its
    limit counts decisions of either kind."""
    from folder_files import make_folder

    from imagearena.arena import folder as ranker

    arena = make_arena()
    client = make_client(arena)
    root = tmp_path / "pics"
    make_folder(root, 4)
    study = ranker.open_folder(arena, root, round_type="pair").study
    kinds = []
    for round_type, decision in (("pair", {"winner": Outcome.MODEL_A}), ("best4", {"ranks": [1, 2, 2, 2]})):
        ranker.open_folder(arena, root, round_type=round_type)
        for _ in range(2):
            token = client.post(f"/api/v1/studies/{study}/matches").json()["token"]
            assert client.post("/api/v1/votes", json={"token": token, **decision}).status_code == 201
            kinds.append(round_type)
    ranker.open_folder(arena, root, round_type="pair")
    token = client.post(f"/api/v1/studies/{study}/matches").json()["token"]
    assert client.post("/api/v1/votes", json={"token": token, "winner": Outcome.TIE}).status_code == 201
    kinds.append("pair")
    answer = client.get(f"/api/v1/studies/{study}/history").json()
    _conforms(client, answer)
    assert [h["round_type"] for h in answer["votes"]] == kinds[::-1]
    times = [h["tstamp"] for h in answer["votes"]]
    assert times == sorted(times, reverse=True)
    limited = client.get(f"/api/v1/studies/{study}/history", params={"limit": 2}).json()["votes"]
    assert [h["round_type"] for h in limited] == ["pair", "best4"]
    page = client.get(f"/history/{study}", headers=HTML).text
    assert page.count('<tr class="round"') == 2 and page.count("<tr>") == 3 + 1  # + the header row
