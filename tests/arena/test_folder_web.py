"""The folder ranker's routes serve only regular image files inside the folder, whatever the URL."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from folder_files import image_bytes, make_folder

from imagearena.arena import folder as ranker
from imagearena.errors import InputError

SECRET = b"\x89PNG secret bytes outside the folder"


@pytest.fixture
def served(make_arena, make_client, tmp_path):
    arena = make_arena()
    root = tmp_path / "pics"
    names = make_folder(root, 3, subfolders=2)
    (tmp_path / "secret.png").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.png", root / "link.png")
    os.symlink(tmp_path, root / "up")
    os.mkfifo(root / "pipe.png")
    study = ranker.open_folder(arena, root).study
    return arena, make_client(arena), study, names, root


def _asgi_get(app, raw_path: bytes) -> tuple[int, bytes]:
    """GET a path exactly as given (an HTTP client would remove its '..' parts before sending)."""
    from urllib.parse import unquote_to_bytes

    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, body


def test_images_and_thumbnails_are_served_by_name(served, tmp_path):
    arena, client, study, names, root = served
    answer = client.get(f"/rank/{study}/image/{names[1]}")
    assert answer.status_code == 200 and answer.content == (root / names[1]).read_bytes()
    assert answer.headers["content-type"] == "image/png"
    thumb = client.get(f"/rank/{study}/thumb/{names[1]}")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert not any(p.suffix == ".webp" for p in root.rglob("*"))  # cached outside the folder
    assert any((arena.settings.data_dir / "thumbs").rglob("*.webp"))


ESCAPES = [
    b"../secret.png",
    b"set00/../../secret.png",
    b"%2e%2e/secret.png",
    b"%2E%2E%2Fsecret.png",
    b"..%2fsecret.png",
    b"..%5csecret.png",
    b"..%5Csecret.png",
    b"%252e%252e%252fsecret.png",
    b"..\\secret.png",
    b"%2Ftmp%2Fsecret.png",
    b"",
    b"link.png",
    b"up/secret.png",
    b"pipe.png",
    b"set00",
]


def test_escapes_are_not_found_and_never_leak(served):
    _, client, study, _, root = served
    for kind in ("image", "thumb"):
        for raw in ESCAPES:
            status, body = _asgi_get(client.app, f"/rank/{study}/{kind}/".encode() + raw)
            assert status in (400, 404), (kind, raw, status)
            assert SECRET not in body


def test_an_absolute_path_is_not_found(served, tmp_path):
    _, client, study, _, _ = served
    status, body = _asgi_get(
        client.app, f"/rank/{study}/image/".encode() + str(tmp_path / "secret.png").encode()
    )
    assert status == 404 and SECRET not in body


def test_round_images_are_served_from_the_folder_by_fingerprint(served):
    from imagearena.storage.catalog import file_fingerprint

    _, client, _, names, root = served
    status = (root / names[0]).stat()
    fingerprint = file_fingerprint(names[0], status.st_size, status.st_mtime_ns)
    answer = client.get(f"/media/{fingerprint}.png")
    assert answer.status_code == 200 and answer.content == (root / names[0]).read_bytes()
    assert client.get(f"/media/{'0' * 64}.png").status_code == 404


def test_rankings_state_and_downloads(served, client):
    arena, client, study, names, root = served
    state = client.get(f"/api/v1/folders/{study}").json()
    assert state == {
        "study": study,
        "round_type": "pair",
        "folder": "pics",
        "images": 3,
        "missing": 0,
        "decisions": 0,
        "unseen": 3,
        "confidence": 0.5,  # nothing decided: each neighbouring pair a coin flip
        "loading": False,
        "examined": None,
        "error": None,
    }
    lines = client.get(f"/api/v1/folders/{study}/rankings").json()["images"]
    assert [line["image"] for line in lines] == names
    csv = client.get(f"/rank/{study}/rankings.csv")
    assert csv.status_code == 200 and csv.text.startswith("image,rank,mu,sigma,conservative,")
    assert "attachment" in csv.headers["content-disposition"]
    assert client.get("/api/v1/folders/no-such-study").status_code == 404


def test_a_study_that_is_not_a_folder_is_refused(served):
    from seeding import STUDY

    _, client, _, _, _ = served
    assert client.get(f"/api/v1/folders/{STUDY}").status_code == 400
    assert client.get(f"/rank/{STUDY}/image/x.png").status_code == 400


def test_a_damaged_image_thumbnail_is_a_client_error(served):
    arena, client, study, _, root = served
    (root / "broken.png").write_bytes(image_bytes()[:-30] + b"\0" * 18 + b"IEND\xaeB`\x82")
    ranker.open_folder(arena, root)
    answer = client.get(f"/rank/{study}/thumb/broken.png")
    assert answer.status_code == 400


def test_round_images_carry_their_own_prompts(make_arena, make_client, tmp_path):
    from seeding import STUDY

    arena = make_arena()
    client = make_client(arena)
    root = tmp_path / "pics"
    names = make_folder(root, 4)
    for name in names[:3]:
        (root / name).with_suffix(".txt").write_text(f"prompt of {name}")
    study = ranker.open_folder(arena, root, round_type="best4").study
    match = client.post(f"/api/v1/studies/{study}/matches").json()
    vote = client.post("/api/v1/votes", json={"token": match["token"], "ranks": [1, 2, 2, 2]}).json()
    shown = [image.get("prompt") for image in match["images"]]
    assert shown == [f"prompt of {name}" if name != names[3] else None for name in vote["models"]]
    assert match["prompt"] == "Rank the images of pics"
    state = client.get(f"/api/v1/folders/{study}").json()
    assert (state["decisions"], state["unseen"]) == (1, 0)
    other = client.post(f"/api/v1/studies/{STUDY}/matches").json()
    assert all("prompt" not in image for image in other["images"])


def test_the_files_left_out_at_start_are_listed(served):
    arena, client, study, _, root = served
    answer = client.get(f"/api/v1/folders/{study}/skipped").json()
    assert answer["scanned"] is True
    assert {(f["name"], f["reason"]) for f in answer["files"]} == {
        ("link.png", "outside"),
        ("pipe.png", "special-file"),
    }
    assert all(f["message"] for f in answer["files"])


def test_while_the_folder_is_read_the_page_says_so_and_reloads(make_arena, make_client, tmp_path):
    arena = make_arena()
    client = make_client(arena)
    root = tmp_path / "pics"
    make_folder(root, 3)
    study = ranker.begin_loading(arena, root, "order4")
    page = client.get(f"/rank/{study}")
    assert page.status_code == 200 and "Reading the folder" in page.text and page.headers["refresh"] == "1"
    state = client.get(f"/api/v1/folders/{study}").json()
    assert (state["loading"], state["examined"], state["images"], state["round_type"]) == (
        True,
        0,
        0,
        "order4",
    )

    ranker.load_folder(arena, root)
    page = client.get(f"/rank/{study}")
    assert page.status_code == 200 and "refresh" not in page.headers and 'id="ranker"' in page.text
    state = client.get(f"/api/v1/folders/{study}").json()
    assert (state["loading"], state["images"], state["round_type"]) == (False, 3, "order4")


def test_a_failed_read_is_shown_on_the_loading_page(make_arena, make_client, tmp_path):
    arena = make_arena()
    client = make_client(arena)
    root = tmp_path / "pics"
    make_folder(root, 2)
    study = ranker.begin_loading(arena, root)

    def broken_import(opened):
        raise InputError("the log is not a decision log")

    with pytest.raises(InputError):
        ranker.load_folder(arena, root, then=broken_import)
    page = client.get(f"/rank/{study}")
    assert "the log is not a decision log" in page.text and "refresh" not in page.headers
    state = client.get(f"/api/v1/folders/{study}").json()
    assert (state["loading"], state["error"]) == (False, "the log is not a decision log")


def test_progress_gives_the_ranking_confidence_of_neighbours_in_the_trueskill_order(served):
    """confidence = the mean over neighbouring images of the ranking of Phi((mu_i - mu_j) /
    sqrt(2 beta^2 + sigma_i^2 + sigma_j^2)), computed here from the rankings' own mu and sigma; it grows
    as consistent decisions come in, and the ranker page shows it as a percentage."""
    from scipy.stats import norm

    from imagearena.ratings.trueskill import TrueSkillEnv

    arena, client, study, names, _ = served
    beta = TrueSkillEnv().beta
    before = client.get(f"/api/v1/folders/{study}").json()["confidence"]
    for _ in range(12):  # a decision is revealed only once cast: learn the pair, undo, decide by name
        match = client.post(f"/api/v1/studies/{study}/matches").json()
        token = match["token"]
        revealed = client.post("/api/v1/votes", json={"token": token, "winner": "tie"}).json()
        undone = client.post("/api/v1/undo", json={"token": token}).json()
        a, b = revealed["models"]
        winner = "model_a" if names.index(a) < names.index(b) else "model_b"
        fresh = undone["match"]["token"]
        assert client.post("/api/v1/votes", json={"token": fresh, "winner": winner}).status_code == 201
    lines = client.get(f"/api/v1/folders/{study}/rankings").json()["images"]
    expected = sum(
        norm.cdf((hi["mu"] - lo["mu"]) / (2 * beta**2 + hi["sigma"] ** 2 + lo["sigma"] ** 2) ** 0.5)
        for hi, lo in zip(lines, lines[1:], strict=False)
    ) / (len(lines) - 1)
    confidence = client.get(f"/api/v1/folders/{study}").json()["confidence"]
    assert confidence == pytest.approx(expected, abs=1e-6)
    assert before == 0.5 < confidence <= 1
    page = client.get(f"/rank/{study}", headers={"accept": "text/html"}).text
    shown = re.search(
        r'data-field="confidence" data-format="percent">[^<]*ranking confidence\s*<strong>(\d+)%<', page
    )
    assert shown is not None and int(shown.group(1)) == round(confidence * 100)


def test_ranking_confidence_bounds():
    assert ranker.ranking_confidence([(25.0, 1.0)], 4.0) is None
    assert ranker.ranking_confidence([(25.0, 1.0), (25.0, 1.0)], 4.0) == 0.5
    assert ranker.ranking_confidence([(90.0, 0.1), (10.0, 0.1), (-70.0, 0.1)], 4.0) == pytest.approx(1.0)
    assert ranker.ranking_confidence([(10.0, 1.0), (30.0, 1.0)], 4.0) < 0.01


def test_the_ranker_page_lists_the_files_left_out_with_the_reasons(served, make_arena, make_client):
    from html import unescape

    arena, client, study, _, root = served
    page = client.get(f"/rank/{study}", headers={"accept": "text/html"}).text
    listed = re.search(r'<details id="skipped"[^>]*>(.*?)</details>', page, re.S)
    assert listed is not None and "2 files left out" in listed.group(1)
    items = re.findall(r"<li><code>([^<]*)</code>: <span class=\"reason\">([^<]*)</span>", listed.group(1))
    assert {(unescape(name), reason) for name, reason in items} == {
        ("link.png", "outside"),
        ("pipe.png", "special-file"),
    }
    assert f"/api/v1/folders/{study}/skipped" in listed.group(1)
    assert "<script>" not in page and "style=" not in page  # the page's CSP allows neither
    # a server that did not scan the folder has no list to show, and shows none
    other = make_client(make_arena())
    assert 'id="skipped"' not in other.get(f"/rank/{study}", headers={"accept": "text/html"}).text
