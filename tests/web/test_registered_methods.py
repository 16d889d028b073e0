"""A rating method a package registers is a leaderboard method like the built-ins: the JSON API, the
rating-history API and the leaderboard page accept it, and an unknown name is a 400 that lists the
registered ones."""

from __future__ import annotations

import plugin_method
import pytest
from seeding import STUDY

HTML = {"accept": "text/html"}


@pytest.fixture
def method():
    with plugin_method.registered() as name:
        yield name


def _vote(client, n: int = 6) -> None:
    for i in range(n):
        token = client.post(f"/api/v1/studies/{STUDY}/matches").json()["token"]
        winner = ("model_a", "model_b", "tie")[i % 3]
        assert client.post("/api/v1/votes", json={"token": token, "winner": winner}).status_code == 201


def test_the_api_rates_by_a_registered_method(client, method):
    _vote(client)
    body = client.get(f"/api/v1/studies/{STUDY}/leaderboard", params={"method": method}).json()
    assert body["method"] == method and body["votes"] == 6
    assert [r["rating"] for r in body["rows"]] == sorted((r["wins"] for r in body["rows"]), reverse=True)
    history = client.get(f"/api/v1/studies/{STUDY}/ratings", params={"method": method})
    assert history.status_code == 200 and history.json()["method"] == method


def test_the_page_ranks_by_a_registered_method_and_offers_it(client, method):
    _vote(client)
    page = client.get(f"/leaderboard/{STUDY}", params={"method": method}, headers=HTML)
    assert page.status_code == 200
    assert f"<strong>{method}</strong>" in page.text  # the chosen method's tab
    assert 'href="?method=bt"' in page.text
    assert f'href="?method={method}"' in client.get(f"/leaderboard/{STUDY}", headers=HTML).text


@pytest.mark.parametrize(
    "url",
    [f"/api/v1/studies/{STUDY}/leaderboard", f"/api/v1/studies/{STUDY}/ratings", f"/leaderboard/{STUDY}"],
)
def test_an_unknown_method_is_a_400_naming_the_registered_ones(client, method, url):
    r = client.get(url, params={"method": "glicko"}, headers={} if url.startswith("/api") else HTML)
    assert r.status_code == 400
    text = r.json()["error"]["message"] if url.startswith("/api") else r.text
    assert "unknown rating method" in text and all(m in text for m in ("elo", "trueskill", "bt", method))


def test_openapi_documents_the_built_in_methods(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/studies/{study}/leaderboard", "/api/v1/studies/{study}/ratings"):
        (param,) = (p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "method")
        assert param["schema"]["type"] == "string" and param["schema"]["default"] == "elo"
        assert param["schema"]["examples"] == ["elo", "trueskill", "bt"]
        assert "imagearena.rating_methods" in param["description"]
