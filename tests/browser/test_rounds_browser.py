"""Four-image and pair rounds in the arena, in a real Chromium at a desktop and a phone size: best of
four and order of four by keyboard and by mouse, a tie in an order, undo of the last decision, the large
view; each decision reaches the battle log and the leaderboard, and the page keeps to the CSP."""

from __future__ import annotations

from collections import Counter
from itertools import groupby

import pytest
from pagecheck import (
    battles,
    board,
    focus_outline,
    image_digests,
    image_sources,
    in_view,
    revealed_names,
    sideways_overflow,
    small_buttons,
    wait_state,
)

from imagearena.types import Outcome, RoundType

pytestmark = pytest.mark.browser

MODELS = ("model-alpha", "model-beta", "model-gamma", "model-delta", "model-epsilon")
PROMPTS = ("a lighthouse on a cliff at dawn", "a bowl of ramen on a wooden counter")
BEST, ORDER, PAIRS = "best-of-four", "order-of-four", "pairs"


@pytest.fixture(scope="module")
def server(make_server, seed):
    from imagearena.storage import studies

    def setup(session, store):
        for name, round_type in ((BEST, RoundType.BEST4), (ORDER, RoundType.ORDER4), (PAIRS, RoundType.PAIR)):
            studies.get_or_create_study(session, name, round_type=round_type)
            models = MODELS if round_type != RoundType.PAIR else MODELS[:3]
            seed(session, store, name, {m: list(PROMPTS) for m in models})

    return make_server(setup)


def _open(page, server, study: str) -> None:
    page.goto(f"{server.url}/arena/{study}")
    wait_state(page, "ready")


def _rounds(log: list[dict]) -> list[list[dict]]:
    """Battles grouped by the four-image round they came from, in log order."""
    return [list(g) for _, g in groupby(log, key=lambda b: b.get("round_id"))]


def _won(battle: dict) -> str | None:
    return battle[battle["winner"]] if battle["winner"] in (Outcome.MODEL_A, Outcome.MODEL_B) else None


def _check_four_on_one_screen(page, size: str) -> None:
    """Four loaded images in a 2x2 grid, all on screen with the controls; nothing scrolls sideways;
    buttons a finger can hit on a phone; no model name before the vote."""
    boxes = [page.locator(f"#img-{i}").bounding_box() for i in range(1, 5)]
    assert len({round(b["x"]) for b in boxes}) == 2 and len({round(b["y"]) for b in boxes}) == 2
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] == boxes[2]["x"]  # 1 2 / 3 4
    for i in range(1, 5):
        assert page.eval_on_selector(f"#img-{i}", "img => img.naturalWidth") > 0
        assert in_view(page, f"#img-{i}"), i
    for selector in ("#prompt", "#skip"):
        assert in_view(page, selector), selector
    assert revealed_names(page) == ["", "", "", ""] and not page.locator(".reveal").first.is_visible()
    assert sideways_overflow(page) == 0
    if size == "phone":
        assert small_buttons(page, "#arena button") == []


def test_best_of_four_by_keyboard_and_mouse_reaches_the_log_and_the_leaderboard(server, sized_page, size):
    page = sized_page
    before_log, before_board = len(battles(server.url, BEST)), board(server.url, BEST)
    _open(page, server, BEST)
    _check_four_on_one_screen(page, size)

    page.keyboard.press("3")  # the third image is the best
    wait_state(page, "voted")
    names = revealed_names(page)
    assert len(set(names)) == 4 and set(names) <= set(MODELS)
    assert page.inner_text("#result-text") == f"Best: {names[2]}."
    assert page.get_attribute("#side-3", "class") == "side winner"
    assert in_view(page, "#next") and in_view(page, "#undo")
    picked = [names[2]]
    page.keyboard.press("n")
    wait_state(page, "ready")

    page.click("#side-1 .pick")  # a click on the first image
    wait_state(page, "voted")
    picked.append(revealed_names(page)[0])
    page.click("#next")
    wait_state(page, "ready")

    page.keyboard.press("0")  # no clear best, by key, then by its button
    wait_state(page, "voted")
    assert page.inner_text("#result-text").startswith("No clear best: ")
    page.keyboard.press("Enter")
    wait_state(page, "ready")
    page.click("#none-best")
    wait_state(page, "voted")
    assert page.locator(".side.winner").count() == 0

    rounds = _rounds(battles(server.url, BEST)[before_log:])
    assert [len(r) for r in rounds] == [3, 3, 6, 6]
    assert all(b["round_type"] == RoundType.BEST4 and b["round_id"] for r in rounds for b in r)
    for winner, battles_of_round in zip(picked, rounds[:2], strict=True):
        assert {_won(b) for b in battles_of_round} == {winner}
    assert all(b["winner"] == Outcome.TIE for r in rounds[2:] for b in r)

    after = board(server.url, BEST)
    log = [b for r in rounds for b in r]
    wins = Counter(_won(b) for b in log if _won(b))
    ties = Counter(m for b in log if b["winner"] == Outcome.TIE for m in (b["model_a"], b["model_b"]))
    for model in MODELS:
        old = before_board.get(model, {"wins": 0, "ties": 0})
        assert after[model]["wins"] - old["wins"] == wins[model], model
        assert after[model]["ties"] - old["ties"] == ties[model], model
    assert page.problems == []


def test_order_of_four_with_a_tie_by_keyboard_and_mouse(server, sized_page, size):
    page = sized_page
    before_log = len(battles(server.url, ORDER))
    _open(page, server, ORDER)
    _check_four_on_one_screen(page, size)
    assert page.locator("#submit").is_disabled() and page.locator("#tie-prev").is_disabled()

    # keys: 2 is best, = ties 4 with it, then 1; Backspace takes 1 back; 3, then 1 last
    for key in ("2", "=", "4", "1"):
        page.keyboard.press(key)
    assert [page.inner_text(f"#badge-{i}") for i in (2, 4, 1)] == ["1", "1", "3"]
    assert page.locator("#badge-3").is_hidden()
    page.keyboard.press("Enter")  # not all four ranked: nothing is sent
    assert page.get_attribute("#arena", "data-state") == "ready"
    page.keyboard.press("Backspace")
    assert page.locator("#badge-1").is_hidden()
    page.keyboard.press("3")
    page.keyboard.press("1")
    assert [page.inner_text(f"#badge-{i}") for i in (1, 2, 3, 4)] == ["4", "1", "3", "1"]
    assert page.get_attribute("#side-2 .pick", "aria-label") == "Choose image 2, ranked 1"
    with page.expect_response("**/api/v1/votes") as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 201 and answer.value.json()["ranks"] == [4, 1, 3, 1]
    wait_state(page, "voted")
    names = revealed_names(page)
    lines = page.inner_text("#result-text").splitlines()
    assert sorted(lines[:2]) == sorted([f"1. {names[1]}", f"1. {names[3]}"])
    assert lines[2:] == [f"3. {names[2]}", f"4. {names[0]}"]
    page.keyboard.press("Enter")
    wait_state(page, "ready")

    # mouse: 3 best, tie with previous: 1, then 2 and 4
    page.click("#side-3 .pick")
    page.click("#tie-prev")
    assert page.get_attribute("#tie-prev", "aria-pressed") == "true"
    page.click("#side-1 .pick")
    assert page.get_attribute("#tie-prev", "aria-pressed") == "false"
    page.click("#side-2 .pick")
    page.click("#side-4 .pick")
    with page.expect_response("**/api/v1/votes") as answer:
        page.click("#submit")
    assert answer.value.json()["ranks"] == [1, 3, 1, 4]
    wait_state(page, "voted")

    rounds = _rounds(battles(server.url, ORDER)[before_log:])
    assert [len(r) for r in rounds] == [6, 6]
    assert all(b["round_type"] == RoundType.ORDER4 for r in rounds for b in r)
    assert [sum(b["winner"] == Outcome.TIE for b in r) for r in rounds] == [1, 1]
    assert page.problems == []


def test_pair_round_undo_shows_the_round_again_and_the_decision_is_gone(server, sized_page):
    page = sized_page
    before_log = len(battles(server.url, PAIRS))
    _open(page, server, PAIRS)
    count = page.locator("#vote-count")
    votes = int(count.get_attribute("data-count"))
    assert page.locator("#undo").is_hidden()  # nothing to undo yet

    shown = image_digests(page)
    page.keyboard.press("1")
    wait_state(page, "voted")
    assert count.get_attribute("data-count") == str(votes + 1) and page.locator("#undo").is_visible()
    page.keyboard.press("u")
    wait_state(page, "ready")
    assert image_digests(page) == shown and page.locator("#name-left").is_hidden()
    assert count.get_attribute("data-count") == str(votes) and "Undone" in page.inner_text("#status")
    assert page.locator("#undo").is_hidden()  # one decision back, no further

    page.click("#side-right .pick")  # a click on the right image
    wait_state(page, "voted")
    assert page.get_attribute("#side-right", "class") == "side winner"
    assert page.inner_text("#result-text").startswith("Right wins")
    page.click("#undo")
    wait_state(page, "ready")
    assert image_digests(page) == shown

    page.click('button[data-winner="model_a"]')
    wait_state(page, "voted")
    page.keyboard.press("n")  # the next round is on screen: undo still takes the last decision back
    wait_state(page, "ready")
    assert page.locator("#undo").is_visible()
    page.click("#undo")
    wait_state(page, "ready")
    assert image_digests(page) == shown
    page.keyboard.press("ArrowRight")
    wait_state(page, "voted")
    assert count.get_attribute("data-count") == str(votes + 1)

    new = battles(server.url, PAIRS)[before_log:]
    assert [b["winner"] for b in new] == [Outcome.MODEL_B]  # the three undone decisions are not in the log
    page.reload()
    wait_state(page, "ready")
    assert int(page.locator("#vote-count").get_attribute("data-count")) == votes + 1
    assert page.problems == []


def test_large_view_of_any_image_by_key_and_magnifier(server, sized_page):
    page = sized_page
    _open(page, server, BEST)
    sources = image_sources(page)
    viewer = page.locator("#viewer")

    page.keyboard.press("Shift+Digit2")
    assert viewer.is_visible() and page.get_attribute("#viewer-img", "src") == sources[1]
    assert in_view(page, "#viewer-img") and in_view(page, "#viewer-close")
    page.keyboard.press("3")  # the large view takes the keys: no vote behind it
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#viewer-img", "src") == sources[2]
    assert page.inner_text("#viewer-caption") == "Image 3"
    page.keyboard.press("Escape")
    assert viewer.is_hidden() and page.get_attribute("#arena", "data-state") == "ready"

    page.click("#side-4 .zoom")
    assert viewer.is_visible() and page.get_attribute("#viewer-img", "src") == sources[3]
    page.click("#viewer-prev")
    assert page.get_attribute("#viewer-img", "src") == sources[2]
    page.keyboard.press("v")
    assert viewer.is_hidden() and page.get_attribute("#arena", "data-state") == "ready"
    page.keyboard.press("v")  # V shows the image whose control has the focus: the fourth one's magnifier
    assert viewer.is_visible() and page.get_attribute("#viewer-img", "src") == sources[3]
    page.click("#viewer-close")
    assert viewer.is_hidden()

    for _ in range(40):  # Tab to the first image: its focus is visible
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('pick')"):
            break
    assert page.evaluate("() => document.activeElement.getAttribute('data-index')") == "0"
    assert focus_outline(page) not in ("", "none")
    page.keyboard.press("Enter")  # Enter on a focused image picks it
    wait_state(page, "voted")
    assert page.get_attribute("#side-1", "class") == "side winner"
    assert page.problems == []


@pytest.mark.parametrize("study", [BEST, ORDER])
def test_history_shows_rounds_as_four_images_with_rank_badges(server, sized_page, size, study):
    """Each round of the history: its four images loaded, a badge on each ranked image (the pick only
    for best of four) inside the image's top-left corner, and nothing scrolls sideways."""
    page = sized_page
    ranks = [2, 2, 1, 2] if study == BEST else [1, 2, 2, 4]
    match = page.request.post(f"{server.url}/api/v1/studies/{study}/matches").json()
    vote = page.request.post(f"{server.url}/api/v1/votes", data={"token": match["token"], "ranks": ranks})
    assert vote.status == 201
    page.goto(f"{server.url}/history/{study}")
    page.wait_for_load_state("load")
    row = page.locator("#history tr.round").first
    images = row.locator("img.thumb")
    assert images.count() == 4
    loaded = "img => img.complete ? img.naturalWidth > 0 : new Promise(r => (img.onload = () => r(true)))"
    for i in range(4):
        images.nth(i).scroll_into_view_if_needed()  # lazy images load once near the screen
        assert images.nth(i).evaluate(loaded), i
    badges = row.locator(".badge")
    assert badges.all_text_contents() == [str(r) for r in ranks if study == ORDER or r == 1]
    for i in range(badges.count()):
        badge = badges.nth(i).bounding_box()
        image = badges.nth(i).locator("xpath=preceding-sibling::img").bounding_box()
        assert image["x"] <= badge["x"] < image["x"] + image["width"] / 2
        assert image["y"] <= badge["y"] < image["y"] + image["height"] / 2
    assert sideways_overflow(page) == 0
    assert page.problems == []
