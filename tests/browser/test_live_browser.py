"""A live study in a real Chromium at a desktop and a phone size: the voter types a prompt, the images
are generated on demand (an openai entry against a local stub server, slowed so the progress shows, and
a procedural one), the round appears and is voted on; a backend that fails is told to the voter and
leaves nothing behind. The page keeps to the CSP."""

from __future__ import annotations

import base64
import io
import os
import time

import pytest
from live_helpers import KEY, counts, media_files
from pagecheck import battles, board, in_view, revealed_names, sideways_overflow, small_buttons, wait_state
from stub_server import Recorded, Reply, StubServer

pytestmark = pytest.mark.browser

GOOD, BROKEN, FOUR = "live-good", "live-broken", "live-four"


def _answer(request: Recorded) -> Reply:
    """A 256 px image whose colour follows the prompt, after a short wait (so the progress shows)."""
    from PIL import Image

    prompt = request.json()["prompt"]
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (len(prompt) * 7 % 255, 120, 200)).save(out, "PNG")
    return Reply(200, {"data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]}, delay=0.6)


@pytest.fixture(scope="module")
def server(make_server):
    from imagearena.storage import studies
    from imagearena.storage.live import LiveSettingsRow, save_live_settings

    previous = os.environ.get("LIVE_TEST_KEY")
    os.environ["LIVE_TEST_KEY"] = KEY
    with StubServer() as stub, StubServer() as broken:
        stub.add("POST", "/v1/images/generations", _answer)
        broken.add("POST", "/v1/images/generations", Reply(500, {"error": {"message": f"melted {KEY}"}}))

        def setup(session, store):
            entries = [
                ("remote", stub.url),
                ("broken", broken.url),
            ]
            lines = [
                f'[generators.proc-{style}]\nbackend = "procedural"\nsize = "256x256"\nstyle = "{style}"\n'
                for style in ("crisp", "blurry", "glitchy")
            ]
            for name, url in entries:
                lines.append(
                    f'[generators.{name}]\nbackend = "openai"\nmodel = "stub-image-1"\nbase_url = "{url}/v1"\n'
                    'api_key_env = "LIVE_TEST_KEY"\ntimeout_s = 5\nmax_retries = 0\n'
                )
            (store.root.parent / "generators.toml").write_text("\n".join(lines))
            for study, generators in (
                (GOOD, ("remote", "proc-crisp")),
                (BROKEN, ("broken", "proc-crisp")),
                (FOUR, ("remote", "proc-crisp", "proc-blurry", "proc-glitchy")),
            ):
                row = studies.get_or_create_study(
                    session,
                    study,
                    title=study.replace("-", " ").capitalize(),
                    round_type="best4" if study == FOUR else "pair",
                )
                save_live_settings(session, LiveSettingsRow(row.id, generators, prompts=("a quiet harbour",)))
            session.commit()

        try:
            yield make_server(setup)
        finally:
            if previous is None:
                os.environ.pop("LIVE_TEST_KEY", None)
            else:
                os.environ["LIVE_TEST_KEY"] = previous


def test_a_live_round_from_prompt_to_vote(server, sized_page, size):
    page = sized_page
    before = len(battles(server.url, GOOD))
    page.goto(f"{server.url}/arena/{GOOD}")
    page.wait_for_selector("#live-generate:not([disabled])")
    assert page.locator("#prompt").inner_text().startswith("Type a prompt")
    page.fill("#live-prompt", "a lighthouse at dawn")
    page.click("#live-generate")
    page.wait_for_selector("#live-progress:not([hidden])")
    page.wait_for_function(
        "() => /Generating: [0-2] of 2/.test(document.getElementById('live-progress').textContent)"
    )
    wait_state(page, "ready")
    assert page.locator("#prompt").inner_text() == "a lighthouse at dawn"
    assert page.eval_on_selector_all("[data-slot] img", "imgs => imgs.map(i => i.naturalWidth)") == [256, 256]
    assert revealed_names(page) == ["", ""]
    assert sideways_overflow(page) == 0
    if size == "phone":
        assert small_buttons(page, "#arena button") == []
    page.keyboard.press("a")
    wait_state(page, "voted")
    names = revealed_names(page)
    assert sorted(names) == ["proc-crisp", "remote"]
    log = battles(server.url, GOOD)
    assert len(log) == before + 1 and log[-1]["winner"] == "model_a" and log[-1]["model_a"] == names[0]
    assert board(server.url, GOOD)[names[0]]["wins"] >= 1
    # Next asks for a prompt again; Draw a prompt takes one of the study's
    page.click("#next")
    page.wait_for_selector("#live-draw:not([disabled])")
    page.click("#live-draw")
    wait_state(page, "ready")
    assert page.locator("#prompt").inner_text() == "a quiet harbour"
    assert page.problems == []


def test_a_failing_backend_is_told_and_leaves_nothing(server, sized_page):
    page = sized_page
    arena = server.arena
    before, files = counts(arena), media_files(arena)
    page.goto(f"{server.url}/arena/{BROKEN}")
    page.wait_for_selector("#live-generate:not([disabled])")
    page.fill("#live-prompt", "a red kite")
    page.click("#live-generate")
    wait_state(page, "error")
    message = page.locator("#status").inner_text()
    assert "nothing of it was kept" in message and KEY not in message
    assert page.locator("#retry").is_visible()
    deadline = time.monotonic() + 5
    while counts(arena) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counts(arena) == before and media_files(arena) == files
    assert page.problems == []


def test_a_four_image_live_round_fits_one_screen(server, sized_page, size):
    page = sized_page
    page.goto(f"{server.url}/arena/{FOUR}")
    page.wait_for_selector("#live-generate:not([disabled])")
    page.fill("#live-prompt", "a mountain under a night sky")
    page.keyboard.press("Enter")  # Enter in the prompt box generates
    wait_state(page, "ready")
    for i in range(1, 5):
        assert page.eval_on_selector(f"#img-{i}", "img => img.naturalWidth") == 256
        if size == "desktop":  # a phone scrolls to the fourth image and the buttons below it
            assert in_view(page, f"#img-{i}"), i
    assert in_view(page, "#live-prompt") and sideways_overflow(page) == 0
    if size == "phone":
        assert small_buttons(page, "#arena button") == []
    page.keyboard.press("2")
    wait_state(page, "voted")
    names = revealed_names(page)
    assert sorted(names) == ["proc-blurry", "proc-crisp", "proc-glitchy", "remote"]
    assert board(server.url, FOUR)[names[1]]["wins"] >= 1
    assert page.problems == []
