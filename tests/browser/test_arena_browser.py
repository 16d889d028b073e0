"""A real Chromium against a real `imagearena demo` server: vote with the mouse and the keyboard, then
see the leaderboard change."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _state(page, state: str) -> None:
    page.wait_for_selector(f'#arena[data-state="{state}"]')


def _leaderboard_votes(page, base: str) -> int:
    page.goto(f"{base}/leaderboard/demo")
    return int(page.inner_text("#vote-total"))


def test_vote_with_mouse_and_keyboard_and_see_the_leaderboard_change(demo_server, page):
    base = demo_server
    assert _leaderboard_votes(page, base) == 0
    assert page.locator("#no-votes").is_visible()

    page.goto(base + "/")
    assert page.url.endswith("/arena/demo")
    _state(page, "ready")
    prompt = page.inner_text("#prompt")
    assert prompt and "Loading" not in prompt
    assert page.eval_on_selector("#img-left", "img => img.naturalWidth") > 0
    assert page.eval_on_selector("#img-right", "img => img.naturalWidth") > 0
    assert not page.locator("#name-left").is_visible()  # no model names before the vote

    # mouse: left is better
    page.click('button[data-winner="model_a"]')
    _state(page, "voted")
    left, right = page.inner_text("#name-left"), page.inner_text("#name-right")
    assert left.startswith("procedural-") and right.startswith("procedural-") and left != right
    assert "Left wins" in page.inner_text("#result-text")
    page.click("#next")
    _state(page, "ready")

    # keyboard: B (right), then N for the next match; the arrows and T/X work the same way
    page.keyboard.press("b")
    _state(page, "voted")
    assert "Right wins" in page.inner_text("#result-text")
    page.keyboard.press("n")
    _state(page, "ready")
    page.keyboard.press("ArrowUp")
    _state(page, "voted")
    assert "Tie" in page.inner_text("#result-text")
    page.keyboard.press("Enter")
    _state(page, "ready")
    page.keyboard.press("x")
    _state(page, "voted")
    page.keyboard.press("n")
    _state(page, "ready")

    # skip: a new match, no vote
    token_before = page.evaluate(
        "() => document.getElementById('img-left').src + document.getElementById('prompt').textContent"
    )
    for _ in range(5):  # a skip may draw the same pair again by chance
        page.keyboard.press("s")
        _state(page, "ready")
        now = page.evaluate(
            "() => document.getElementById('img-left').src + document.getElementById('prompt').textContent"
        )
        if now != token_before:
            break
    assert now != token_before

    assert _leaderboard_votes(page, base) == 4
    rows = page.locator("#leaderboard tbody tr")
    assert rows.count() >= 2
    votes = [int(v) for v in page.locator("#leaderboard td.votes").all_inner_texts()]
    assert sum(votes) == 8  # every vote counts for both of its models
    assert page.locator("#winrates").is_visible()
    assert page.locator(".chart-box svg polyline").count() >= 2

    # and the history page shows the four votes with their thumbnails
    page.goto(f"{base}/history/demo")
    assert page.locator("#history tbody tr").count() == 4
    assert page.locator("img.thumb").count() == 8
    assert re.search(r"procedural-", page.inner_text("#history"))
