"""Small checks the browser tests share: page state, what is on screen, sizes, and the server's record.

A plain module (no fixtures): pytest puts this folder on sys.path, so test modules import it by name.
"""

from __future__ import annotations

import json
from typing import Any

#: The least height of a control a finger has to hit on a phone, in CSS pixels.
TOUCH_PX = 44


def wait_state(page: Any, state: str, root: str = "#arena") -> None:
    page.wait_for_selector(f'{root}[data-state="{state}"]')


def in_view(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    view = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= view["width"] + 0.5
        and box["y"] + box["height"] <= view["height"] + 0.5
    )


def sideways_overflow(page: Any) -> int:
    """Pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    width = page.viewport_size["width"]
    widest = page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth)"
    )
    return max(0, widest - width)


def visible_buttons(page: Any, selector: str = "button") -> list[Any]:
    buttons = page.locator(selector)
    return [b for b in (buttons.nth(i) for i in range(buttons.count())) if b.is_visible()]


def small_buttons(page: Any, selector: str = "button") -> list[str]:
    """The visible buttons lower than TOUCH_PX, by their text or label."""
    small = []
    for button in visible_buttons(page, selector):
        box = button.bounding_box()
        if box is not None and box["height"] < TOUCH_PX - 0.5:
            small.append(button.get_attribute("aria-label") or button.inner_text())
    return small


def focus_outline(page: Any) -> str:
    """The outline style of the focused element ('none' when focus is not visible)."""
    return page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")


def image_sources(page: Any) -> list[str]:
    """The image URLs of the round on screen, in display order."""
    return page.eval_on_selector_all("[data-slot] img", "imgs => imgs.map(i => i.getAttribute('src'))")


def image_digests(page: Any) -> list[str]:
    """The SHA-256 of each image of the round on screen, in display order: the same images show the same
    digests even when a new match serves them under new sealed URLs."""
    import hashlib

    base = page.url.split("/", 3)[:3]
    return [
        hashlib.sha256(page.request.get("/".join(base) + src).body()).hexdigest()
        for src in image_sources(page)
    ]


def revealed_names(page: Any) -> list[str]:
    return [n.strip() for n in page.locator("[data-slot] .reveal").all_inner_texts()]


def battles(url: str, study: str) -> list[dict[str, Any]]:
    """The study's battle log as the JSONL export writes it."""
    import httpx

    answer = httpx.get(f"{url}/api/v1/studies/{study}/votes.jsonl", timeout=10)
    answer.raise_for_status()
    return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


def board(url: str, study: str) -> dict[str, dict[str, Any]]:
    """The study's Elo leaderboard rows by model name."""
    import httpx

    answer = httpx.get(f"{url}/api/v1/studies/{study}/leaderboard", timeout=10)
    answer.raise_for_status()
    return {row["model"]: row for row in answer.json()["rows"]}
