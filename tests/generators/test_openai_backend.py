"""The openai backend against a local stub of the Images API: the documented request and answer shapes,
its error documents, rate limits, timeouts and safety refusals; the key never leaves the request."""

from __future__ import annotations

import base64
import logging

import pytest
from stub_server import Reply, StubServer

from imagearena.generators.config import create, parse_entry
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorAuthError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.generators.openai import OpenAIGenerator
from imagearena.types import GenerationRequest

KEY = "sk-test-4f9c2e1b7a0d4c3e9f8a"
PATH = "/v1/images/generations"


def error(code: str, message: str, kind: str = "invalid_request_error", param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def images(png: bytes, count: int = 1, **extra: object) -> dict:
    return {"created": 1700000000, "data": [{"b64_json": base64.b64encode(png).decode(), **extra}] * count}


@pytest.fixture
def make(stub: StubServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    waits: list[float] = []

    def build(**table: object) -> OpenAIGenerator:
        entry = {
            "backend": "openai",
            "model": "gpt-image-1",
            "base_url": stub.url + "/v1",
            "api_key_env": "TEST_OPENAI_KEY",
            "max_retries": 2,
            **table,
        }
        generator = create(parse_entry("dalle", entry))
        assert isinstance(generator, OpenAIGenerator)
        generator.client.sleep = waits.append  # pace retries without waiting
        return generator

    build.waits = waits  # type: ignore[attr-defined]
    return build


def test_success_sends_the_documented_request_and_reads_b64_json(make, stub, png):
    stub.add("POST", PATH, Reply(200, images(png, 2, revised_prompt="a red fox, photo")))
    gen = make(size="1024x1536", quality="high")
    out = gen.generate(GenerationRequest("a red fox", seed=3, n=2))
    [sent] = stub.requests
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json() == {
        "prompt": "a red fox",
        "n": 2,
        "model": "gpt-image-1",
        "size": "1024x1536",
        "quality": "high",
    }
    assert [i.data for i in out] == [png, png]
    assert out[0].seed is None  # the API takes no seed
    assert out[0].params == {
        "backend": "openai",
        "model": "gpt-image-1",
        "size": "1024x1536",
        "quality": "high",
        "revised_prompt": "a red fox, photo",
    }


def test_url_answers_are_downloaded_without_the_key_from_another_host(make, stub, png):
    with StubServer() as cdn:
        cdn.add("GET", "/img/1.png", Reply(200, body=png, headers={"Content-Type": "image/png"}))
        stub.add("POST", PATH, Reply(200, {"data": [{"url": cdn.url + "/img/1.png"}]}))
        [image] = make(response_format="url").generate(GenerationRequest("a fox", seed=0))
        assert image.data == png
        assert stub.requests[0].json()["response_format"] == "url"
        assert "authorization" not in cdn.requests[0].headers


def test_dall_e_3_makes_one_image_per_request_and_send_seed_sends_consecutive_seeds(make, stub, png):
    stub.add("POST", PATH, Reply(200, images(png)))
    make(model="dall-e-3").generate(GenerationRequest("a fox", seed=0, n=3))
    assert [r.json()["n"] for r in stub.requests] == [1, 1, 1]
    stub.requests.clear()
    out = make(send_seed=True, images_per_request=4).generate(GenerationRequest("a fox", seed=10, n=2))
    assert [r.json()["seed"] for r in stub.requests] == [10, 11]
    assert [i.seed for i in out] == [10, 11]
    stub.requests.clear()
    make(images_per_request=4).generate(GenerationRequest("a fox", seed=0, n=6))
    assert [r.json()["n"] for r in stub.requests] == [4, 2]


def test_401_is_a_one_line_auth_error_naming_the_variable_with_the_key_redacted(make, stub):
    stub.add("POST", PATH, Reply(401, error("invalid_api_key", f"Incorrect API key provided: {KEY}.")))
    with pytest.raises(GeneratorAuthError) as caught:
        make().generate(GenerationRequest("a fox", seed=0))
    message = str(caught.value)
    assert "$TEST_OPENAI_KEY" in message and "HTTP 401" in message and "generator 'dalle'" in message
    assert KEY not in message and "***" in message and "\n" not in message
    assert len(stub.requests) == 1  # never retried


def test_a_missing_key_variable_is_named_before_any_request(make, stub, monkeypatch):
    monkeypatch.delenv("TEST_OPENAI_KEY")
    with pytest.raises(GeneratorAuthError, match=r"\$TEST_OPENAI_KEY, which is not set"):
        make().generate(GenerationRequest("a fox", seed=0))
    assert stub.requests == []


def test_429_waits_what_retry_after_asks_then_succeeds(make, stub, png):
    limited = Reply(429, error("rate_limit_exceeded", "Rate limit reached"), headers={"Retry-After": "7"})
    stub.add("POST", PATH, limited, Reply(200, images(png)))
    gen = make()
    [image] = gen.generate(GenerationRequest("a fox", seed=0))
    assert image.data == png and len(stub.requests) == 2
    assert make.waits == [7.0]


def test_429_on_every_try_gives_up_after_the_retries(make, stub):
    stub.add(
        "POST", PATH, Reply(429, error("rate_limit_exceeded", "slow down"), headers={"Retry-After": "1"})
    )
    with pytest.raises(GeneratorUnavailable, match=r"HTTP 429 after 2 retries: slow down"):
        make().generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 3 and make.waits == [1.0, 1.0]


def test_an_exhausted_quota_is_not_retried(make, stub):
    stub.add("POST", PATH, Reply(429, error("insufficient_quota", "You exceeded your current quota")))
    with pytest.raises(GeneratorUnavailable, match="quota is used up.*billing"):
        make().generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 1


def test_500_is_retried_with_jittered_backoff_then_reported(make, stub):
    stub.add("POST", PATH, Reply(500, error("server_error", "The server had an error")))
    with pytest.raises(
        GeneratorUnavailable, match="answered HTTP 500 after 2 retries: The server had an error"
    ):
        make().generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 3
    first, second = make.waits
    assert 0.0 <= first <= 0.5 and 0.0 <= second <= 1.0  # full jitter below base * 2**attempt


def test_500_then_success_returns_the_images(make, stub, png):
    stub.add("POST", PATH, Reply(503, body=b"upstream busy"), Reply(200, images(png)))
    assert make().generate(GenerationRequest("a fox", seed=0))[0].data == png


def test_a_timeout_is_reported_and_a_sent_generation_is_not_repeated(make, stub, png):
    stub.add("POST", PATH, Reply(200, images(png), delay=1.0))
    with pytest.raises(GeneratorUnavailable, match=r"did not answer within 0.2 s: raise timeout_s"):
        make(timeout_s=0.2).generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    "document",
    [
        error("content_policy_violation", "Your request was rejected as a result of our safety system."),
        error("moderation_blocked", "Rejected by the safety system", kind="image_generation_user_error"),
        {"error": {"message": "Prompt flagged as NSFW by the content filter"}},  # a host without codes
    ],
)
def test_a_safety_refusal_is_generation_refused_and_not_retried(make, stub, document):
    stub.add("POST", PATH, Reply(400, document))
    with pytest.raises(GenerationRefused, match="refused the prompt") as caught:
        make().generate(GenerationRequest("something forbidden", seed=0))
    assert caught.value.http_status == 422 and len(stub.requests) == 1


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (404, error("model_not_found", "The model `gpt-imagine` does not exist")),
        (400, error("invalid_value", "Invalid value for model", param="model")),
    ],
)
def test_an_unknown_model_is_named(make, stub, status, document):
    stub.add("POST", PATH, Reply(status, document))
    with pytest.raises(UnknownModelError, match="does not know the model 'gpt-imagine'.*check model"):
        make(model="gpt-imagine").generate(GenerationRequest("a fox", seed=0))


def test_other_4xx_and_malformed_answers_are_one_line_errors(make, stub):
    from imagearena.generators.errors import GeneratorError

    stub.add("POST", PATH, Reply(400, error("invalid_size", "size must be one of 1024x1024")))
    with pytest.raises(GeneratorError, match=r"rejected the request \(HTTP 400\): size must be one of"):
        make().generate(GenerationRequest("a fox", seed=0))
    stub.add("POST", PATH, Reply(200, {"data": [{"b64_json": "not base64!"}]}))
    with pytest.raises(GeneratorError, match="not valid base64"):
        make().generate(GenerationRequest("a fox", seed=0))
    stub.add("POST", PATH, Reply(200, body=b"<html>gateway</html>"))
    with pytest.raises(GeneratorError, match="did not answer with JSON"):
        make().generate(GenerationRequest("a fox", seed=0))


def test_check_lists_the_models(make, stub):
    stub.add(
        "GET", "/v1/models", Reply(200, {"object": "list", "data": [{"id": "gpt-image-1"}, {"id": "x"}]})
    )
    assert make().check() == f"{stub.url}/v1 answers; model 'gpt-image-1' listed"
    assert stub.requests[0].headers["authorization"] == f"Bearer {KEY}"
    with pytest.raises(UnknownModelError, match="does not list the model 'dall-e-9'"):
        make(model="dall-e-9").check()
    stub.add("GET", "/v1/models", Reply(401, error("invalid_api_key", "bad key")))
    with pytest.raises(GeneratorAuthError):
        make().check()


def test_another_auth_header_for_gateways(make, stub, png):
    stub.add("POST", PATH, Reply(200, images(png)))
    make(auth="api-key").generate(GenerationRequest("a fox", seed=0))
    assert stub.requests[0].headers["api-key"] == KEY and "authorization" not in stub.requests[0].headers


def test_the_key_is_in_no_log_repr_or_image_record(make, stub, png, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    stub.add(
        "POST",
        PATH,
        Reply(500, error("server_error", f"echo {KEY}")),
        Reply(429, error("rate_limit_exceeded", KEY), headers={"Retry-After": "0"}),
        Reply(200, images(png)),
    )
    gen = make()
    [image] = gen.generate(GenerationRequest("a fox", seed=0))
    stub.add("POST", PATH, Reply(403, error("forbidden", f"key {KEY} is not allowed")))
    with pytest.raises(GeneratorAuthError) as caught:
        gen.generate(GenerationRequest("a fox", seed=0))
    assert "retry 1 of 2" in caplog.text  # the retries were logged...
    for text in (caplog.text, repr(gen), repr(gen.client), repr(gen.config), repr(image), str(caught.value)):
        assert KEY not in text  # ...and the key nowhere
