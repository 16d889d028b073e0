"""Match images are served under sealed names of their own: a fresh name per match that expires with the
match token, so a voter cannot learn from the URLs which model made an image before voting."""

from __future__ import annotations

import hashlib

import pytest
from seeding import STUDY


def _matches(client, n: int) -> list[dict]:
    return [client.post(f"/api/v1/studies/{STUDY}/matches").json() for _ in range(n)]


def test_the_same_image_in_two_matches_has_two_urls_that_name_no_content(client, arena):
    urls_of: dict[str, set[str]] = {}
    for m in _matches(client, 30):
        for side in ("left", "right"):
            url = m[side]["image_url"]
            r = client.get(url)
            assert r.status_code == 200
            digest = hashlib.sha256(r.content).hexdigest()
            assert digest not in url
            urls_of.setdefault(digest, set()).add(url)
    assert len(urls_of) <= 12  # the seeded study holds 12 images, so most were shown more than once
    assert sum(len(urls) for urls in urls_of.values()) == 60  # and every showing had its own URL


def test_a_match_image_is_private_to_its_match_and_has_no_stable_validators(client, arena):
    m = _matches(client, 1)[0]
    r = client.get(m["left"]["image_url"])
    assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    cache = r.headers["cache-control"]
    assert cache.startswith("private, max-age=") and int(cache.rsplit("=", 1)[1]) <= arena.signer.max_age_s
    assert "etag" not in r.headers and "last-modified" not in r.headers  # both would be the same every match


def test_the_url_stops_working_when_the_token_expires(client, arena):
    m = _matches(client, 1)[0]
    assert client.get(m["right"]["image_url"]).status_code == 200
    arena.signer.max_age_s = -1  # every token issued so far has expired
    r = client.get(m["right"]["image_url"])
    assert r.status_code == 404 and "expired" in r.json()["error"]["message"]
    vote = client.post("/api/v1/votes", json={"token": m["token"], "winner": "tie"})
    assert vote.status_code == 400 and "expired" in vote.json()["error"]["message"]


@pytest.mark.parametrize("position", [0, 5, 20, -2])  # version, nonce, sealed name, tag
def test_forged_or_altered_names_are_404(client, position):
    url = _matches(client, 1)[0]["left"]["image_url"]
    prefix, name = url.rsplit("/", 1)
    chars = list(name)
    chars[position] = "A" if chars[position] != "A" else "B"
    assert client.get(f"{prefix}/{''.join(chars)}").status_code == 404


def test_content_addresses_and_garbage_are_not_match_names(client, arena):
    m = _matches(client, 1)[0]
    r = client.get(m["left"]["image_url"])
    digest = hashlib.sha256(r.content).hexdigest()
    for name in (digest, f"{digest}.png", "x", "A" * 400, "%C3%A9"):
        assert client.get(f"/media/match/{name}").status_code == 404, name
    assert client.get(f"/media/{digest}.png").status_code == 200  # history pages still use it
