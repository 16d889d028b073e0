"""The folder ranker page in a real Chromium at a desktop and a phone size: pair, best-of-four and
order-of-four rounds over a folder's images by keyboard and by mouse, file names revealed only after
the decision, the progress line following decisions and undos, and the downloads."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from pagecheck import in_view, revealed_names, sideways_overflow, small_buttons, wait_state

from imagearena.types import RoundType

pytestmark = pytest.mark.browser

ROOT = "#ranker"
IMAGES = 6


def _prompt(name: str) -> str:
    """A long prompt, as generated images often have: the page shows two lines of it."""
    return f"prompt of {name}, " + "a lighthouse on a cliff at dawn, seagulls, volumetric light, " * 8


def _make_folder(root, tag: int) -> list[str]:
    """IMAGES distinct PNGs, some in a subfolder; their names inside the folder."""
    from PIL import Image, ImageDraw

    names = []
    for i in range(IMAGES):
        name = f"set-{i % 2}/shot {tag}-{i}.png" if i % 3 else f"shot {tag}-{i}.png"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        picture = Image.new("RGB", (160, 120), (40 * i, 200 - 30 * i, 90 + 20 * tag))
        ImageDraw.Draw(picture).rectangle((10 + 8 * i, 10, 60 + 8 * i, 90), fill=(250, 240, 200))
        picture.save(path)
        if tag == 0:  # the pair folder's images have their own prompts, in sidecar files
            path.with_suffix(".txt").write_text(_prompt(name), encoding="utf-8")
        names.append(name)
    return names


@pytest.fixture(scope="module")
def ranker(tmp_path_factory, serve) -> Iterator[tuple[Any, dict[str, str], dict[str, list[str]]]]:
    """One server over three folder rankings, one per round type: (server, study by round type, the
    image names of each study)."""
    from imagearena.arena import folder as ranking
    from imagearena.arena.runtime import Arena
    from imagearena.settings import Settings
    from imagearena.storage.engine import open_database

    data = tmp_path_factory.mktemp("ranker-data")
    settings = Settings(data_dir=data, db_url=f"sqlite:///{data / 'state.db'}")
    open_database(settings.database_url).dispose()
    arena = Arena(settings)
    studies, names = {}, {}
    for tag, round_type in enumerate(RoundType):
        root = tmp_path_factory.mktemp(f"pictures-{round_type}")
        made = _make_folder(root, tag)
        study = ranking.open_folder(arena, root, round_type=round_type).study
        studies[round_type], names[study] = study, made
    yield serve(arena), studies, names
    arena.close()


def _open(page, server, study: str) -> None:
    page.goto(f"{server.url}/rank/{study}")
    wait_state(page, "ready", ROOT)


def _field(page, name: str) -> int:
    return int(page.inner_text(f'#progress [data-field="{name}"] strong'))


def _decisions(page) -> int:
    return _field(page, "decisions")


def _wait_decisions(page, n: int) -> None:
    page.locator('#progress [data-field="decisions"] strong').filter(has_text=str(n)).wait_for()


def _vote(page, action) -> list[str]:
    """Decide the round on screen with ``action`` (a key name or a callable), wait for the reveal."""
    if callable(action):
        action()
    else:
        page.keyboard.press(action)
    wait_state(page, "voted", ROOT)
    return revealed_names(page)


def _check_layout(page, size: str, images: int) -> None:
    for i in range(images):
        assert in_view(page, f"[data-slot='{i}'] img"), i
    assert in_view(page, "#skip")
    assert sideways_overflow(page) == 0
    if size == "phone":
        assert small_buttons(page, f"{ROOT} button") == []


def test_pair_ranking_by_keyboard_and_mouse_with_undo(ranker, sized_page, size):
    server, studies, names = ranker
    study, page = studies[RoundType.PAIR], sized_page
    _open(page, server, study)
    _check_layout(page, size, 2)
    assert page.inner_text("h1").startswith("Ranking pictures-pair")
    assert revealed_names(page) == ["", ""]  # anonymous until the decision
    start, unseen = _decisions(page), _field(page, "unseen")
    prompts = page.locator("[data-slot] .image-prompt").all_text_contents()

    shown = _vote(page, "1")
    assert set(shown) <= set(names[study]) and len(set(shown)) == 2
    assert prompts == [_prompt(name).strip() for name in shown]  # each image's own prompt, under it
    page.keyboard.press("Shift+Digit2")  # the large view: the whole prompt, and its buttons on screen
    assert shown[1] in page.inner_text("#viewer-caption") and in_view(page, "#viewer-close")
    page.keyboard.press("Escape")
    assert page.inner_text("#result-text").startswith("Left wins")
    _wait_decisions(page, start + 1)
    page.keyboard.press("u")
    wait_state(page, "ready", ROOT)
    _wait_decisions(page, start)
    _vote(page, lambda: page.click("[data-slot='1'] .pick"))
    assert page.get_attribute("[data-slot='1']", "class") == "side winner"
    _wait_decisions(page, start + 1)
    page.click("#next")
    wait_state(page, "ready", ROOT)
    _vote(page, "ArrowLeft")
    _wait_decisions(page, start + 2)
    folder = page.request.get(f"{server.url}/api/v1/folders/{study}").json()
    assert _field(page, "unseen") == folder["unseen"] and folder["decisions"] == start + 2
    if unseen == IMAGES:  # a fresh folder: the kept decision showed two images at least
        assert folder["unseen"] <= IMAGES - 2
    share = folder["confidence"] * 100  # a share in the API, a percentage on the page
    confidence = page.inner_text('#progress [data-field="confidence"] strong')
    assert confidence in {f"{math.floor(share)}%", f"{math.ceil(share)}%"}
    assert page.problems == []


def test_best_of_four_ranking_by_keyboard_and_mouse(ranker, sized_page, size):
    server, studies, names = ranker
    study, page = studies[RoundType.BEST4], sized_page
    _open(page, server, study)
    _check_layout(page, size, 4)
    start = _decisions(page)

    shown = _vote(page, "2")
    assert set(shown) <= set(names[study]) and len(set(shown)) == 4
    assert page.inner_text("#result-text") == f"Best: {shown[1]}."
    page.keyboard.press("n")
    wait_state(page, "ready", ROOT)
    shown = _vote(page, lambda: page.click("[data-slot='3'] .pick"))
    assert page.inner_text("#result-text") == f"Best: {shown[3]}."
    page.click("#next")
    wait_state(page, "ready", ROOT)
    _vote(page, lambda: page.click("#none-best"))
    _wait_decisions(page, start + 3)

    rankings = page.request.get(f"{server.url}/api/v1/folders/{study}/rankings").json()["images"]
    assert {r["image"] for r in rankings} == set(names[study])
    assert sum(r["wins"] for r in rankings) >= 6  # two picks beat three images each
    assert page.problems == []


def test_order_of_four_ranking_by_keyboard_and_mouse(ranker, sized_page, size):
    server, studies, names = ranker
    study, page = studies[RoundType.ORDER4], sized_page
    _open(page, server, study)
    _check_layout(page, size, 4)
    start = _decisions(page)

    for key in ("4", "=", "1", "2", "3"):
        page.keyboard.press(key)
    assert page.get_attribute(ROOT, "data-state") == "ready"  # all four ranked, nothing sent yet
    shown = _vote(page, "Enter")
    lines = page.inner_text("#result-text").splitlines()
    assert sorted(lines[:2]) == sorted([f"1. {shown[3]}", f"1. {shown[0]}"])
    page.keyboard.press("Enter")
    wait_state(page, "ready", ROOT)

    for slot in (2, 0, 3, 1):
        page.click(f"[data-slot='{slot}'] .pick")
    with page.expect_response("**/api/v1/votes") as answer:
        page.click("#submit")
    assert answer.value.json()["ranks"] == [2, 4, 1, 3]
    wait_state(page, "voted", ROOT)
    _wait_decisions(page, start + 2)

    csv = page.request.get(server.url + page.get_attribute("#rankings-csv", "href"))
    assert csv.ok and csv.text().startswith("image,rank,mu,sigma")
    log = page.request.get(server.url + page.get_attribute("#log-jsonl", "href"))
    assert log.ok and log.text().count("\n") >= 12  # two rounds of six battles
    assert page.problems == []
