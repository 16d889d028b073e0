"""What a new voter sees, in a real Chromium at a desktop and a phone size: only buttons that work are
shown, the vote count follows the votes, a study with nothing to vote on says so, both images and the
buttons fit one screen, and no page scrolls sideways."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pagecheck import in_view, sideways_overflow, wait_state

pytestmark = pytest.mark.browser

STUDY = "long-names"
MODELS = (
    "stable-diffusion-xl-base-1.0-with-refiner",
    "playground-v2.5-1024px-aesthetic",
    "pixart-sigma-xl-2-1024-ms",
)
PROMPTS = (
    "a watercolor painting of a lighthouse on a cliff at dawn, seagulls circling above the foam",
    "an astronaut riding a horse across a salt flat, photographed on medium-format film",
    "a bowl of ramen on a wooden counter, steam rising, neon signs reflected in the broth",
    "a red cube",
)
SHOTS = os.environ.get("IMAGEARENA_SCREENSHOTS")  # a folder: screenshots to look at the layout
VOTE_BUTTONS = "#vote-buttons button[data-winner], #skip"


@pytest.fixture(scope="module")
def server(make_server, seed):
    from imagearena.storage import studies

    def setup(session, store):
        seed(session, store, STUDY, {m: list(PROMPTS) for m in MODELS})
        studies.get_or_create_study(session, "empty")
        seed(session, store, "lonely", {"solo-model": list(PROMPTS[:2])})
        seed(session, store, "disjoint", {"model-x": [PROMPTS[0]], "model-y": [PROMPTS[1]]})

    live = make_server(setup)
    live.vote(STUDY, ["model_a", "model_b", "tie", "both_bad", "model_a", "model_b"] * 5)
    return live


def _state(page, state: str) -> None:
    wait_state(page, state)


def _open_arena(page, server, study: str = STUDY, state: str = "ready") -> None:
    page.goto(f"{server.url}/arena/{study}")
    _state(page, state)


def _vote_buttons(page):
    buttons = page.locator(VOTE_BUTTONS)
    return [buttons.nth(i) for i in range(buttons.count())]


def _count(page) -> int:
    text = page.inner_text("#vote-count")
    found = re.match(r"(\d+) votes? so far", text)
    assert found, text
    return int(found.group(1))


def _shot(page, name: str, size: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{size}.png"))


def test_only_the_buttons_that_work_show_through_a_vote_cycle(server, sized_page):
    page = sized_page
    _open_arena(page, server)
    for _ in range(2):  # the first match and the one after a vote
        assert len(_vote_buttons(page)) == 5
        assert all(b.is_visible() and b.is_enabled() for b in _vote_buttons(page))
        assert not page.locator("#next").is_visible()  # no "Next match" before the vote
        assert not page.locator("#name-left").is_visible() and not page.locator("#retry").is_visible()

        page.click('button[data-winner="model_b"]')
        _state(page, "voted")
        assert page.locator("#next").is_visible() and page.locator("#name-right").is_visible()
        assert not any(b.is_visible() for b in _vote_buttons(page))  # they would do nothing now
        page.click("#next")
        _state(page, "ready")
    assert page.problems == []


def test_the_vote_count_follows_each_vote(server, sized_page):
    page = sized_page
    _open_arena(page, server)
    before = _count(page)
    page.click('button[data-winner="model_a"]')
    _state(page, "voted")
    assert _count(page) == before + 1
    page.keyboard.press("a")  # a vote key after the vote does not vote again
    assert _count(page) == before + 1
    page.keyboard.press("n")
    _state(page, "ready")
    page.keyboard.press("t")
    _state(page, "voted")
    assert page.inner_text("#vote-count") == f"{before + 2} votes so far in this study."
    page.reload()
    _state(page, "ready")
    assert _count(page) == before + 2  # what the server counted


@pytest.mark.parametrize("study", ["empty", "lonely"])
def test_a_study_with_nothing_to_vote_on_says_so_and_disables_the_buttons(server, sized_page, study, size):
    page = sized_page
    _open_arena(page, server, study, state="empty")
    prompt = page.locator("#prompt")
    assert "Nothing to vote on yet" in prompt.inner_text() and "import-folder" in prompt.inner_text()
    assert in_view(page, "#prompt")
    assert "Loading" not in page.inner_text("#arena")
    assert all(b.is_disabled() for b in _vote_buttons(page))
    page.keyboard.press("a")
    page.keyboard.press("s")
    assert page.get_attribute("#arena", "data-state") == "empty" and page.inner_text("#status") == ""
    assert sideways_overflow(page) == 0
    assert page.problems == []
    _shot(page, f"arena-{study}", size)


def test_a_refused_match_shows_the_server_message_and_disables_voting(server, sized_page):
    page = sized_page
    _open_arena(page, server, "disjoint", state="error")  # two models, but no prompt in common: a 400
    assert "two different models" in page.inner_text("#status")
    assert page.locator("#status").is_visible() and page.inner_text("#prompt") == "No match to show."
    assert all(b.is_disabled() for b in _vote_buttons(page))
    assert page.locator("#retry").is_visible()
    page.click("#retry")
    _state(page, "error")
    assert "two different models" in page.inner_text("#status")


def test_a_refused_vote_shows_the_server_message_and_voting_goes_on(server, sized_page):
    page = sized_page
    _open_arena(page, server)
    signer = server.arena.signer
    max_age = signer.max_age_s
    signer.max_age_s = -1.0  # every token the page holds is now expired: the server answers 400
    try:
        page.click('button[data-winner="model_a"]')
        page.wait_for_function("() => document.getElementById('status').textContent.includes('expired')")
    finally:
        signer.max_age_s = max_age
    assert page.locator("#status").is_visible()
    assert page.get_attribute("#status", "class") == "status error"
    assert all(b.is_visible() and b.is_enabled() for b in _vote_buttons(page))  # skip to a new match
    page.click("#skip")
    _state(page, "ready")
    assert page.inner_text("#status") == ""
    page.click('button[data-winner="tie"]')
    _state(page, "voted")


def test_both_images_and_the_vote_buttons_fit_one_screen(server, sized_page, size):
    page = sized_page
    _open_arena(page, server)
    _shot(page, "arena", size)
    view = page.viewport_size
    for selector in ("#prompt", "#img-left", "#img-right"):
        assert in_view(page, selector), selector
    for button in _vote_buttons(page):
        assert button.is_visible() and in_view(page, f"#vote-buttons {_selector(button)}")
    for side in ("#img-left", "#img-right"):
        assert page.locator(side).bounding_box()["width"] >= 0.4 * min(view["width"], 1200) - 40
    page.click('button[data-winner="model_a"]')
    _state(page, "voted")
    for selector in ("#next", "#name-left", "#name-right", "#img-left", "#img-right"):
        assert in_view(page, selector), selector
    _shot(page, "arena-voted", size)
    assert sideways_overflow(page) == 0


def _selector(button) -> str:
    winner = button.get_attribute("data-winner")
    return f'button[data-winner="{winner}"]' if winner else "#skip"


@pytest.mark.parametrize(
    "path",
    [
        f"/arena/{STUDY}",
        f"/leaderboard/{STUDY}",
        f"/leaderboard/{STUDY}?method=bt",
        f"/history/{STUDY}",
        "/studies",
        f"/studies/{STUDY}",
    ],
)
def test_no_page_scrolls_sideways(server, sized_page, size, path):
    page = sized_page
    page.goto(server.url + path)
    page.wait_for_load_state("load")
    assert sideways_overflow(page) == 0
    for table in ("#leaderboard", "#history", "#winrates"):
        if page.locator(table).count():
            assert page.locator(table).is_visible()
    assert page.problems == []
    name = re.sub(r"[^a-z]+", "-", path.split("/")[1] + ("-bt" if "bt" in path else "")).strip("-")
    _shot(page, "page-" + (name or "studies"), size)
