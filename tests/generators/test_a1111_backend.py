"""The a1111 backend against a local stub of the AUTOMATIC1111 API (/sdapi/v1/txt2img, /sdapi/v1/sd-models):
request and answer shapes, checkpoint lookup, Basic auth, rate limits, server errors, timeouts, refusals."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from stub_server import Reply

from imagearena.generators.a1111 import A1111Generator
from imagearena.generators.config import create, parse_entry
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.types import GenerationRequest

PAIR = "arena:s3cret-pa55word"
TXT2IMG = "/sdapi/v1/txt2img"
MODELS = "/sdapi/v1/sd-models"
CHECKPOINTS = [
    {
        "title": "v1-5-pruned-emaonly.safetensors [6ce0161689]",
        "model_name": "v1-5-pruned-emaonly",
        "hash": "6ce0161689",
        "sha256": "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
        "filename": "/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors",
        "config": None,
    },
    {"title": "sdxl_base.safetensors [31e35c80fc]", "model_name": "sdxl_base", "hash": "31e35c80fc"},
]


def answer(png: bytes, count: int, seed: int, **info: object) -> dict:
    """What txt2img sends: base64 images, the parameters echoed, and ``info`` as a JSON string."""
    details = {
        "seed": seed,
        "all_seeds": [seed + k for k in range(count)],
        "sd_model_name": "v1-5-pruned-emaonly",
        "sd_model_hash": "6ce0161689",
        "width": 512,
        "height": 512,
        "steps": 20,
        "cfg_scale": 7.0,
        "sampler_name": "Euler a",
        **info,
    }
    return {
        "images": [base64.b64encode(png).decode()] * count,
        "parameters": {},
        "info": json.dumps(details),
    }


@pytest.fixture
def make(stub, monkeypatch):
    monkeypatch.setenv("TEST_A1111_AUTH", PAIR)
    waits: list[float] = []

    def build(**table: object) -> A1111Generator:
        entry = {"backend": "a1111", "base_url": stub.url, "api_key_env": "TEST_A1111_AUTH", "max_retries": 2}
        generator = create(parse_entry("sd15", {**entry, **table}))
        assert isinstance(generator, A1111Generator)
        generator.client.sleep = waits.append
        return generator

    build.waits = waits  # type: ignore[attr-defined]
    return build


def test_txt2img_request_and_answer(make, stub, png):
    stub.add("GET", MODELS, Reply(200, CHECKPOINTS))
    stub.add("POST", TXT2IMG, Reply(200, answer(png, 2, 41, steps=25, cfg_scale=6.5, width=640, height=512)))
    gen = make(model="v1-5-pruned-emaonly", steps=25, guidance=6.5, size="640x512", sampler="Euler a")
    out = gen.generate(GenerationRequest("a lighthouse", seed=41, n=2, negative_prompt="blurry"))
    sent = stub.hits("POST", TXT2IMG)[0]
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(PAIR.encode()).decode()
    assert sent.json() == {
        "prompt": "a lighthouse",
        "negative_prompt": "blurry",
        "seed": 41,
        "batch_size": 2,
        "n_iter": 1,
        "send_images": True,
        "save_images": False,
        "width": 640,
        "height": 512,
        "steps": 25,
        "cfg_scale": 6.5,
        "sampler_name": "Euler a",
        "override_settings": {"sd_model_checkpoint": "v1-5-pruned-emaonly.safetensors [6ce0161689]"},
        "override_settings_restore_afterwards": True,
    }
    assert [i.data for i in out] == [png, png] and [i.seed for i in out] == [41, 42]
    assert out[0].params == {
        "backend": "a1111",
        "sd_model_name": "v1-5-pruned-emaonly",
        "sd_model_hash": "6ce0161689",
        "width": 640,
        "height": 512,
        "steps": 25,
        "cfg_scale": 6.5,
        "sampler_name": "Euler a",
        "negative_prompt": "blurry",
    }
    gen.generate(GenerationRequest("a lighthouse", seed=1))
    assert len(stub.hits("GET", MODELS)) == 1  # the checkpoint is looked up once


def test_extension_images_after_the_batch_are_left_out(make, stub, png):
    extra = answer(png, 1, 5)
    extra["images"].append(base64.b64encode(b"a control map").decode())
    stub.add("POST", TXT2IMG, Reply(200, extra))
    assert [i.data for i in make().generate(GenerationRequest("a fox", seed=5))] == [png]


@pytest.mark.parametrize("name", ["sdxl_base", "sdxl_base.safetensors", "31e35c80fc"])
def test_a_checkpoint_is_found_by_name_title_or_hash(make, stub, name):
    stub.add("GET", MODELS, Reply(200, CHECKPOINTS))
    assert (
        make(model=name).check()
        == f"{stub.url} answers; checkpoint 'sdxl_base.safetensors [31e35c80fc]' found"
    )


def test_an_unknown_checkpoint_is_named_before_generating(make, stub, png):
    stub.add("GET", MODELS, Reply(200, CHECKPOINTS))
    with pytest.raises(
        UnknownModelError, match="has no checkpoint 'flux-dev' \\(it has 'v1-5-pruned-emaonly'"
    ):
        make(model="flux-dev").generate(GenerationRequest("a fox", seed=0))
    assert stub.hits("POST", TXT2IMG) == []


def test_401_names_the_variable_and_hides_the_password(make, stub):
    stub.add(
        "POST",
        TXT2IMG,
        Reply(401, {"detail": "Incorrect username or password"}, {"WWW-Authenticate": "Basic"}),
    )
    with pytest.raises(
        GeneratorAuthError, match=r"HTTP 401: Incorrect username or password\): check the key in \$TEST"
    ):
        make().generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 1


def test_429_with_retry_after_then_success(make, stub, png):
    stub.add(
        "POST",
        TXT2IMG,
        Reply(429, {"detail": "queue full"}, headers={"Retry-After": "3"}),
        Reply(200, answer(png, 1, 0)),
    )
    assert len(make().generate(GenerationRequest("a fox", seed=0))) == 1
    assert make.waits == [3.0] and len(stub.requests) == 2


def test_500_with_the_servers_error_document(make, stub):
    crash = {"error": "OutOfMemoryError", "detail": "", "body": "", "errors": "CUDA out of memory."}
    stub.add("POST", TXT2IMG, Reply(500, crash))
    with pytest.raises(GeneratorUnavailable, match="HTTP 500 after 2 retries: OutOfMemoryError"):
        make().generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 3


def test_a_timeout_is_unavailable_and_not_repeated(make, stub, png):
    stub.add("POST", TXT2IMG, Reply(200, answer(png, 1, 0), delay=1.0))
    with pytest.raises(GeneratorUnavailable, match="did not answer within 0.2 s"):
        make(timeout_s=0.2).generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 1


def test_a_refused_prompt(make, stub):
    stub.add("POST", TXT2IMG, Reply(400, {"detail": "Prompt blocked: NSFW content detected"}))
    with pytest.raises(GenerationRefused, match="refused the prompt: Prompt blocked: NSFW"):
        make().generate(GenerationRequest("something", seed=0))


def test_validation_errors_and_short_answers(make, stub, png):
    detail = {
        "detail": [{"loc": ["body", "steps"], "msg": "value is not a valid integer", "type": "type_error"}]
    }
    stub.add("POST", TXT2IMG, Reply(422, detail))
    with pytest.raises(
        GeneratorError, match=r"rejected the request \(HTTP 422\): value is not a valid integer"
    ):
        make().generate(GenerationRequest("a fox", seed=0))
    stub.add("POST", TXT2IMG, Reply(200, answer(png, 1, 0)))
    with pytest.raises(GeneratorError, match="without the 3 images"):
        make().generate(GenerationRequest("a fox", seed=0, n=3))


def test_a_server_down_is_unavailable_after_retrying_the_connection(make, stub, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gen = make(base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(
        GeneratorUnavailable, match=f"cannot reach http://127.0.0.1:{port}.*is the service up"
    ):
        gen.generate(GenerationRequest("a fox", seed=0))
    assert len(make.waits) == 2  # a connection never made is safe to retry


def test_the_password_is_in_no_log_or_repr(make, stub, png, caplog):
    caplog.set_level(logging.DEBUG)
    stub.add("POST", TXT2IMG, Reply(503, {"detail": f"bad auth {PAIR}"}), Reply(200, answer(png, 1, 0)))
    gen = make()
    [image] = gen.generate(GenerationRequest("a fox", seed=0))
    secret = PAIR.split(":")[1]
    for text in (caplog.text, repr(gen), repr(gen.client), repr(image)):
        assert secret not in text and base64.b64encode(PAIR.encode()).decode() not in text
