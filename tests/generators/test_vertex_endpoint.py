"""The vertex-endpoint backend against a local stub of a Vertex AI endpoint's predict method (the request and
answer shapes of the Model Garden diffusers containers, Vertex AI's error documents), rate limits, timeouts
and refusals included; credentials from a token variable or from google-auth's default credentials."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from stub_server import Reply, StubServer

from imagearena.errors import InputError
from imagearena.generators.config import GeneratorConfig, create, parse_entry
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.generators.vertex_endpoint import VertexEndpointGenerator
from imagearena.types import GenerationRequest

TOKEN = "ya29.a0-test-token-7d1e5c9b"
RESOURCE = "projects/my-project/locations/europe-west4/endpoints/1234567890"
PREDICT = f"/v1/{RESOURCE}:predict"


def vertex_error(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


def predictions(png: bytes, count: int = 1, key: str | None = "output") -> dict:
    encoded = base64.b64encode(png).decode()
    items = [{key: encoded} if key else encoded for _ in range(count)]
    return {"predictions": items, "deployedModelId": "998877", "model": "projects/1/locations/x/models/5"}


@pytest.fixture
def make(stub: StubServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_VERTEX_TOKEN", TOKEN)
    waits: list[float] = []

    def build(*, token_env: str | None = "TEST_VERTEX_TOKEN", **options: object) -> VertexEndpointGenerator:
        common = {k: options.pop(k) for k in ("timeout_s", "steps", "width", "height") if k in options}
        config = GeneratorConfig(
            name="flux",
            backend="vertex-endpoint",
            model=str(options.pop("model", "1234567890")),
            base_url=stub.url,
            api_key_env=token_env,
            options={"project": "my-project", "location": "europe-west4", "max_retries": 2, **options},
            **common,  # type: ignore[arg-type]
        )
        generator = VertexEndpointGenerator(config)
        generator.client.sleep = waits.append  # pace retries without waiting
        return generator

    build.waits = waits  # type: ignore[attr-defined]
    return build


def test_success_sends_the_documented_predict_request(make, stub, png):
    stub.add("POST", PREDICT, Reply(200, predictions(png, 2)))
    gen = make(steps=4, width=1024, height=768, images_per_request=2, parameters={"guidance_scale": 0.0})
    out = gen.generate(GenerationRequest("a cat holding a sign", seed=5, n=2))
    assert [image.data for image in out] == [png, png]
    assert [image.seed for image in out] == [None, None]  # the container seeds itself: not claimed
    [sent] = stub.requests
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json() == {
        "instances": [{"text": "a cat holding a sign"}] * 2,
        "parameters": {"width": 1024, "height": 768, "num_inference_steps": 4, "guidance_scale": 0.0},
    }
    params = out[0].params
    assert params["endpoint"] == RESOURCE and params["deployed_model_id"] == "998877"
    assert (params["width"], params["height"], params["num_inference_steps"]) == (1024, 768, 4)


def test_images_per_request_splits_a_request_and_plain_base64_predictions_are_read(make, stub, png):
    stub.add(
        "POST",
        PREDICT,
        lambda req: Reply(200, predictions(png, len(req.json()["instances"]), key=None)),
    )
    out = make(images_per_request=2).generate(GenerationRequest("a fox", seed=0, n=3))
    assert len(out) == 3
    assert [len(r.json()["instances"]) for r in stub.requests] == [2, 1]


def test_seed_key_sends_consecutive_seeds_one_image_per_request(make, stub, png):
    stub.add("POST", PREDICT, Reply(200, predictions(png, 1, key="bytesBase64Encoded")))
    out = make(seed_key="seed", prompt_key="prompt").generate(GenerationRequest("a fox", seed=40, n=3))
    assert [image.seed for image in out] == [40, 41, 42]
    assert [r.json()["parameters"]["seed"] for r in stub.requests] == [40, 41, 42]
    assert stub.requests[0].json()["instances"] == [{"prompt": "a fox"}]


def test_a_full_resource_name_sets_project_and_location(stub, png, monkeypatch):
    monkeypatch.setenv("TEST_VERTEX_TOKEN", TOKEN)
    other = "projects/p2/locations/asia-east1/endpoints/42"
    stub.add("POST", f"/v1/{other}:predict", Reply(200, predictions(png)))
    config = GeneratorConfig(
        name="e", backend="vertex-endpoint", model=other, base_url=stub.url, api_key_env="TEST_VERTEX_TOKEN"
    )
    gen = VertexEndpointGenerator(config)
    assert gen.location == "asia-east1"
    assert gen.generate(GenerationRequest("x", seed=0))[0].data == png
    default = VertexEndpointGenerator(
        GeneratorConfig(name="e", backend="vertex-endpoint", model="42", options={"project": "p"})
    )
    assert default.base_url == "https://us-central1-aiplatform.googleapis.com"
    assert default.resource == "projects/p/locations/us-central1/endpoints/42"


def test_an_endpoint_needs_a_project_or_a_resource_name():
    with pytest.raises(InputError, match="needs its project"):
        VertexEndpointGenerator(GeneratorConfig(name="e", backend="vertex-endpoint", model="42"))
    with pytest.raises(InputError, match="is not a Vertex AI endpoint"):
        VertexEndpointGenerator(GeneratorConfig(name="e", backend="vertex-endpoint", model="a b"))


def test_401_is_a_one_line_auth_error_with_the_token_redacted(make, stub):
    stub.add(
        "POST",
        PREDICT,
        Reply(
            401,
            vertex_error(401, "UNAUTHENTICATED", f"Request had invalid authentication credentials {TOKEN}"),
        ),
    )
    with pytest.raises(GeneratorAuthError) as caught:
        make().generate(GenerationRequest("a fox", seed=0))
    message = str(caught.value)
    assert "HTTP 401" in message and "$TEST_VERTEX_TOKEN" in message and "generator 'flux'" in message
    assert TOKEN not in message and "\n" not in message
    assert len(stub.requests) == 1


def test_429_waits_what_retry_after_asks_then_succeeds(make, stub, png):
    stub.add(
        "POST",
        PREDICT,
        Reply(429, vertex_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), headers={"Retry-After": "3"}),
        Reply(200, predictions(png)),
    )
    gen = make()
    assert gen.generate(GenerationRequest("a fox", seed=0))[0].data == png
    assert make.waits == [3.0] and len(stub.requests) == 2


def test_500_is_retried_then_reported(make, stub):
    stub.add("POST", PREDICT, Reply(500, vertex_error(500, "INTERNAL", "Internal error encountered.")))
    with pytest.raises(GeneratorUnavailable, match=r"HTTP 500 after 2 retries: Internal error encountered"):
        make().generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 3 and len(make.waits) == 2


def test_a_timeout_is_reported_and_the_prediction_is_not_repeated(make, stub, png):
    stub.add("POST", PREDICT, Reply(200, predictions(png), delay=1.0))
    with pytest.raises(GeneratorUnavailable, match=r"did not answer within 0.2 s"):
        make(timeout_s=0.2).generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(400, vertex_error(400, "INVALID_ARGUMENT", "The prompt was blocked by the safety filter.")),
        Reply(200, {"predictions": [{"raiFilteredReason": "The prompt violates the usage guidelines."}]}),
    ],
)
def test_a_safety_refusal_is_generation_refused_and_not_retried(make, stub, reply):
    stub.add("POST", PREDICT, reply)
    with pytest.raises(GenerationRefused, match="refused the prompt"):
        make().generate(GenerationRequest("something forbidden", seed=0))
    assert len(stub.requests) == 1


def test_an_unknown_endpoint_is_named(make, stub):
    stub.add("POST", PREDICT, Reply(404, vertex_error(404, "NOT_FOUND", "Endpoint not found.")))
    with pytest.raises(UnknownModelError, match=f"no endpoint {RESOURCE}.*check model, project and location"):
        make().generate(GenerationRequest("a fox", seed=0))


def test_malformed_answers_are_one_line_errors(make, stub):
    stub.add("POST", PREDICT, Reply(200, {"predictions": [{"something": 1}]}), Reply(200, {"nothing": []}))
    with pytest.raises(GeneratorError, match="holds no image"):
        make().generate(GenerationRequest("a fox", seed=0))
    with pytest.raises(GeneratorError, match="without predictions"):
        make().generate(GenerationRequest("a fox", seed=0))


def test_check_reads_the_endpoint(make, stub):
    stub.add("GET", f"/v1/{RESOURCE}", Reply(200, {"name": RESOURCE, "deployedModels": [{"id": "998877"}]}))
    assert make().check() == f"endpoint {RESOURCE} answers (1 deployed model(s))"
    stub.add("GET", f"/v1/{RESOURCE}", Reply(200, {"name": RESOURCE, "deployedModels": []}))
    with pytest.raises(UnknownModelError, match="no deployed model"):
        make().check()


def _service_account(path: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "arena@my-project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


def test_default_credentials_fetch_a_token_and_send_it(make, stub, png, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(
        "GOOGLE_APPLICATION_CREDENTIALS", str(_service_account(tmp_path / "sa.json", stub.url + "/token"))
    )
    adc_token = "ya29.c0-from-the-token-endpoint"
    stub.add(
        "POST", "/token", Reply(200, {"access_token": adc_token, "expires_in": 3600, "token_type": "Bearer"})
    )
    stub.add(
        "POST",
        PREDICT,
        Reply(200, predictions(png)),
        Reply(403, vertex_error(403, "PERMISSION_DENIED", f"token {adc_token} may not predict")),
    )
    gen = make(token_env=None)
    gen.generate(GenerationRequest("a fox", seed=0))
    [token_request] = stub.hits("POST", "/token")
    assert b"grant_type=urn" in token_request.body  # the JWT bearer grant of a service account
    assert stub.hits("POST", PREDICT)[0].headers["authorization"] == f"Bearer {adc_token}"
    with pytest.raises(GeneratorAuthError) as caught:
        gen.generate(GenerationRequest("a fox", seed=1))
    assert len(stub.hits("POST", "/token")) == 1  # the token is reused while it is valid
    for text in (str(caught.value), caplog.text, repr(gen), repr(gen.client)):
        assert adc_token not in text


def test_no_default_credentials_is_a_one_line_auth_error(make, stub, tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud login here
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # and no metadata server to ask
    with pytest.raises(GeneratorAuthError, match="no Google Cloud credentials found: run gcloud auth"):
        make(token_env=None).generate(GenerationRequest("a fox", seed=0))
    assert stub.requests == []


def test_an_entry_of_the_generators_file_builds_the_backend():
    table = {
        "backend": "vertex-endpoint",
        "model": "1234567890",
        "project": "my-project",
        "location": "europe-west4",
        "seed_key": "seed",
        "parameters": {"guidance_scale": 0.0},
        "size": "1024x1024",
        "max_retries": 1,
    }
    generator = create(parse_entry("flux", table))
    assert isinstance(generator, VertexEndpointGenerator)
    assert (
        generator.resource == RESOURCE
        and generator.base_url == "https://europe-west4-aiplatform.googleapis.com"
    )
    assert generator.client.retry.max_retries == 1
