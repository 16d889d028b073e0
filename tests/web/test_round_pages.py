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


def test_history_of_a_four_image_study_points_to_the_battle_log(client, admin_headers):
    body = {"name": "rounds", "round_type": RoundType.BEST4}
    assert client.post("/api/v1/studies", json=body, headers=admin_headers).status_code == 201
    page = client.get("/history/rounds", headers=HTML).text
    assert 'id="rounds-note"' in page and "/api/v1/studies/rounds/votes.jsonl" in page
    assert 'id="rounds-note"' not in client.get("/history/t2i", headers=HTML).text
