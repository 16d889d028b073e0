"""The shared client of the network backends: Retry-After, full-jitter backoff, what is retried, the
concurrency bound, the answer size bound, and the hint when httpx is missing."""

from __future__ import annotations

import email.utils
import random
import sys
import threading
import time

import pytest
from stub_server import Reply

from imagearena.errors import MissingDependencyError
from imagearena.generators import http
from imagearena.generators.config import parse_entry
from imagearena.generators.errors import GeneratorError, GeneratorUnavailable
from imagearena.generators.http import ApiClient, RetryPolicy, error_text, one_line, retry_after_seconds


def client(stub, **table: object) -> ApiClient:
    config = parse_entry("svc", {"backend": "a1111", "base_url": stub.url, **table})
    api = ApiClient(config, stub.url)
    api.waits = []  # type: ignore[attr-defined]
    api.sleep = api.waits.append  # type: ignore[attr-defined]
    return api


def test_retry_after_is_seconds_or_an_http_date():
    now = 1_800_000_000.0
    assert retry_after_seconds("5") == 5.0 and retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("-3") is None


def test_backoff_is_full_jitter_under_a_growing_capped_bound():
    policy, rng = RetryPolicy(base_s=0.5, cap_s=3.0), random.Random(1)
    for attempt, bound in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (8, 3.0)]:
        draws = [policy.backoff(attempt, rng) for _ in range(400)]
        assert 0.0 <= min(draws) < bound / 10 and bound * 0.9 < max(draws) <= bound


def test_an_http_date_retry_after_is_waited_and_a_long_one_is_reported(stub):
    stub.add(
        "GET",
        "/a",
        Reply(503, headers={"Retry-After": email.utils.formatdate(time.time() + 20, usegmt=True)}),
        Reply(200, {}),
    )
    api = client(stub)
    assert api.json("GET", "/a") == {}
    [wait] = api.waits
    assert 17.0 < wait <= 20.0
    stub.add("GET", "/b", Reply(429, {"detail": "daily limit"}, headers={"Retry-After": "86400"}))
    with pytest.raises(
        GeneratorUnavailable, match=r"asks to wait 86400 s \(HTTP 429\): daily limit; try again later"
    ):
        client(stub).request("GET", "/b")
    assert len(stub.hits("GET", "/b")) == 1


def test_a_read_that_times_out_is_retried_a_generation_is_not(stub):
    stub.add("GET", "/models", Reply(200, {"slow": True}, delay=0.6), Reply(200, {"slow": False}))
    api = client(stub, timeout_s=0.2)
    assert api.json("GET", "/models") == {"slow": False} and len(api.waits) == 1
    stub.add("POST", "/run", Reply(200, {}, delay=0.6))
    with pytest.raises(GeneratorUnavailable, match="did not answer within 0.2 s"):
        client(stub, timeout_s=0.2).request("POST", "/run", json_body={})
    assert len(stub.hits("POST", "/run")) == 1


def test_max_concurrency_bounds_requests_in_flight(stub):
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def slow(request):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return Reply(200, {})

    stub.add("GET", "/slow", slow)
    for limit, expected in ((1, 1), (3, 3)):
        state["most"] = 0
        api = client(stub, max_concurrency=limit)
        threads = [threading.Thread(target=api.request, args=("GET", "/slow")) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert state["most"] == expected


def test_an_oversized_answer_is_refused(stub, monkeypatch):
    monkeypatch.setattr(http, "MAX_RESPONSE_BYTES", 1000)
    stub.add("GET", "/big", Reply(200, body=b"x" * 5000))
    with pytest.raises(GeneratorError, match="is over 1,000 bytes: refused"):
        client(stub).request("GET", "/big")


def test_error_text_reads_the_usual_shapes():
    def text(document: object) -> str:
        import json

        return error_text(http.Reply(400, {}, json.dumps(document).encode()))

    assert text({"error": {"message": "bad size", "code": "x"}}) == "bad size"
    assert text({"detail": "Not authenticated"}) == "Not authenticated"
    assert text({"detail": [{"loc": ["body"], "msg": "field required"}]}) == "field required"
    assert text({"error": "RuntimeError", "errors": "boom"}) == "RuntimeError"
    assert error_text(http.Reply(502, {}, b"<html>Bad Gateway</html>")) == "<html>Bad Gateway</html>"
    assert one_line("key sk-1 in\nthe   text", ["sk-1"]) == "key *** in the text"
    assert len(one_line("x" * 1000)) == 300


def test_missing_httpx_names_the_gen_extra(stub, monkeypatch):
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(
        MissingDependencyError, match=r"network generators needs the 'httpx' package \(the 'gen' extra\)"
    ):
        client(stub).request("GET", "/x")


def test_an_api_redirect_is_reported_not_followed_with_the_key(stub, monkeypatch):
    monkeypatch.setenv("HTTP_TEST_KEY", "sk-redirect-secret")
    stub.add("POST", "/v1/run", Reply(308, headers={"Location": "https://other.example/v1/run"}))
    with pytest.raises(
        GeneratorError, match=r"redirects \(HTTP 308\) to https://other.example/v1/run: set base_url"
    ):
        client(stub, api_key_env="HTTP_TEST_KEY").request("POST", "/v1/run", json_body={})
    assert len(stub.requests) == 1


def test_a_same_origin_image_that_moves_is_fetched_without_the_key(stub, monkeypatch, png):
    monkeypatch.setenv("HTTP_TEST_KEY", "sk-redirect-secret")
    stub.add("GET", "/files/1", Reply(302, headers={"Location": "/storage/1.png?sig=abc"}))
    stub.add("GET", "/storage/1.png", Reply(200, body=png))
    api = client(stub, api_key_env="HTTP_TEST_KEY")
    assert api.download(f"{stub.url}/files/1") == png
    first, moved = stub.requests
    assert first.headers["authorization"] == "Bearer sk-redirect-secret"
    assert moved.query == {"sig": "abc"} and "authorization" not in moved.headers
    with pytest.raises(GeneratorError, match="not http"):
        api.download("file:///etc/passwd")


def test_auth_is_a_scheme_or_a_header_name(stub):
    from imagearena.errors import InputError

    config = parse_entry("svc", {"backend": "a1111", "base_url": stub.url})
    with pytest.raises(InputError, match="auth must be bearer, basic or the name of the header"):
        ApiClient(config, stub.url, auth="Bearer: x")
