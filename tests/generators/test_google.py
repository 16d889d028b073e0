"""The google backend (google-genai) against a local stub of the Gemini API's generateContent and Vertex AI's
Imagen predict: the documented request and answer shapes (inlineData parts, predictions with
bytesBase64Encoded), their error documents, rate limits, timeouts and safety blocks."""

from __future__ import annotations

import base64
import logging

import pytest
from stub_server import Reply, StubServer

pytest.importorskip("google.genai")

from imagearena.errors import InputError, MissingDependencyError  # noqa: E402
from imagearena.generators.config import GeneratorConfig, create, parse_entry  # noqa: E402
from imagearena.generators.errors import (  # noqa: E402
    GenerationRefused,
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.generators.google import GoogleGenerator, aspect_ratio  # noqa: E402
from imagearena.types import GenerationRequest  # noqa: E402

KEY = "AIzaSy-test-key-0b9d8c7e6f5a"
TOKEN = "ya29.a0-vertex-token-51c2"
GEMINI = "gemini-2.5-flash-image"
IMAGEN = "imagen-4.0-generate-001"
GENERATE = f"/v1beta/models/{GEMINI}:generateContent"
PREDICT = f"/v1/projects/my-project/locations/us-central1/publishers/google/models/{IMAGEN}:predict"


def google_error(code: int, status: str, message: str, **extra: object) -> dict:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def content(png: bytes, text: str | None = None, finish: str = "STOP") -> dict:
    parts: list[dict] = [{"text": text}] if text else []
    parts.append({"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}})
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "modelVersion": GEMINI,
    }


def imagen(png: bytes, count: int = 1, **extra: object) -> dict:
    item = {"bytesBase64Encoded": base64.b64encode(png).decode(), "mimeType": "image/png", **extra}
    return {"predictions": [item] * count}


@pytest.fixture
def make(stub: StubServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_GEMINI_KEY", KEY)
    monkeypatch.setenv("TEST_VERTEX_TOKEN", TOKEN)
    waits: list[float] = []

    def build(model: str = GEMINI, *, vertex: bool = False, timeout_s: float = 30.0, **options: object):
        if vertex:
            options = {"vertexai": True, "project": "my-project", "api_version": "v1", **options}
        else:
            options = {"api_version": "v1beta", **options}
        config = GeneratorConfig(
            name="google",
            backend="google",
            model=model,
            base_url=stub.url,
            api_key_env=options.pop("api_key_env", "TEST_VERTEX_TOKEN" if vertex else "TEST_GEMINI_KEY"),  # type: ignore[arg-type]
            timeout_s=timeout_s,
            options={"max_retries": 2, **options},
        )
        generator = GoogleGenerator(config)
        generator.sleep = waits.append  # pace retries without waiting
        return generator

    build.waits = waits  # type: ignore[attr-defined]
    return build


def test_gemini_sends_one_seeded_request_per_image_and_reads_inline_data(make, stub, png, monkeypatch):
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY"):  # the SDK's own variables are not what is sent
        monkeypatch.setenv(name, "AIzaSy-some-other-key")
    stub.add("POST", GENERATE, Reply(200, content(png, text="Here is your fox.")))
    out = make().generate(GenerationRequest("a red fox", seed=5, n=2, width=1024, height=576))
    assert [image.data for image in out] == [png, png]
    assert [image.seed for image in out] == [5, 6]
    first, second = stub.requests
    assert first.headers["x-goog-api-key"] == KEY and "authorization" not in first.headers
    body = first.json()
    assert body["contents"] == [{"parts": [{"text": "a red fox"}], "role": "user"}]
    assert body["generationConfig"] == {
        "seed": 5,
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9"},
    }
    assert second.json()["generationConfig"]["seed"] == 6
    params = out[0].params
    assert params["model"] == GEMINI and params["api"] == "gemini-api" and params["aspect_ratio"] == "16:9"
    assert params["mime_type"] == "image/png" and params["finish_reason"] == "STOP"


def test_imagen_on_vertex_batches_up_to_four_images_per_call(make, stub, png):
    stub.add(
        "POST",
        PREDICT,
        lambda req: Reply(
            200, imagen(png, req.json()["parameters"]["sampleCount"], prompt="a red fox, studio")
        ),
    )
    out = make(IMAGEN, vertex=True).generate(
        GenerationRequest("a red fox", seed=9, n=6, width=768, height=1024)
    )
    assert len(out) == 6 and all(image.data == png for image in out)
    assert [image.seed for image in out] == [None] * 6  # the watermark is on: no seed is sent or claimed
    assert [r.json()["parameters"]["sampleCount"] for r in stub.requests] == [4, 2]
    sent = stub.requests[0]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json() == {
        "instances": [{"prompt": "a red fox"}],
        "parameters": {"sampleCount": 4, "aspectRatio": "3:4", "includeRaiReason": True},
    }
    assert out[0].params["enhanced_prompt"] == "a red fox, studio" and out[0].params["api"] == "vertex-ai"


def test_imagen_without_watermark_sends_seed_plus_k_one_image_per_call(make, stub, png):
    stub.add("POST", PREDICT, Reply(200, imagen(png)))
    gen = make(IMAGEN, vertex=True, add_watermark=False, person_generation="allow_adult")
    out = gen.generate(GenerationRequest("a fox", seed=40, n=3, negative_prompt="blur", guidance=6.0))
    assert [image.seed for image in out] == [40, 41, 42]
    parameters = [r.json()["parameters"] for r in stub.requests]
    assert [p["seed"] for p in parameters] == [40, 41, 42]
    assert parameters[0]["addWatermark"] is False and parameters[0]["negativePrompt"] == "blur"
    assert parameters[0]["guidanceScale"] == 6.0 and parameters[0]["personGeneration"] == "ALLOW_ADULT"


def test_401_is_a_one_line_auth_error_with_the_key_redacted(make, stub):
    stub.add("POST", GENERATE, Reply(401, google_error(401, "UNAUTHENTICATED", f"bad key {KEY}")))
    with pytest.raises(GeneratorAuthError) as caught:
        make().generate(GenerationRequest("a fox", seed=0))
    message = str(caught.value)
    assert "HTTP 401" in message and "$TEST_GEMINI_KEY" in message and "generator 'google'" in message
    assert KEY not in message and "\n" not in message and len(stub.requests) == 1


def test_the_gemini_apis_invalid_key_400_is_an_auth_error(make, stub):
    document = google_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    )
    stub.add("POST", GENERATE, Reply(400, document))
    with pytest.raises(GeneratorAuthError, match="refused the credentials"):
        make().generate(GenerationRequest("a fox", seed=0))


def test_a_missing_key_variable_is_named_before_any_request(make, stub, monkeypatch):
    monkeypatch.delenv("TEST_GEMINI_KEY")
    with pytest.raises(GeneratorAuthError, match=r"\$TEST_GEMINI_KEY, which is not set"):
        make().generate(GenerationRequest("a fox", seed=0))
    with pytest.raises(GeneratorAuthError, match="the Gemini API needs a key"):
        make(api_key_env=None).generate(GenerationRequest("a fox", seed=0))
    assert stub.requests == []


def test_429_waits_what_retry_after_asks_then_succeeds(make, stub, png):
    stub.add(
        "POST",
        GENERATE,
        Reply(
            429, google_error(429, "RESOURCE_EXHAUSTED", "Resource exhausted"), headers={"Retry-After": "7"}
        ),
        Reply(200, content(png)),
    )
    gen = make()
    assert gen.generate(GenerationRequest("a fox", seed=0))[0].data == png
    assert make.waits == [7.0] and len(stub.requests) == 2


def test_500_is_retried_with_backoff_then_reported(make, stub):
    stub.add("POST", PREDICT, Reply(500, google_error(500, "INTERNAL", "Internal error encountered.")))
    with pytest.raises(GeneratorUnavailable, match=r"HTTP 500 after 2 retries: Internal error encountered"):
        make(IMAGEN, vertex=True).generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 3
    assert len(make.waits) == 2 and all(0 <= wait <= 30 for wait in make.waits)


def test_a_timeout_is_reported_and_the_generation_is_not_repeated(make, stub, png):
    stub.add("POST", GENERATE, Reply(200, content(png), delay=2.0))
    with pytest.raises(GeneratorUnavailable, match=r"did not answer within 1 s: raise timeout_s"):
        make(timeout_s=1.0).generate(GenerationRequest("a fox", seed=0))
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    ("model", "reply", "says"),
    [
        (GEMINI, Reply(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}), "PROHIBITED_CONTENT"),
        (
            GEMINI,
            Reply(
                200,
                {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY"}]},
            ),
            "IMAGE_SAFETY",
        ),
        (
            GEMINI,
            Reply(200, {"candidates": [{"content": {"parts": [{"text": "I can't make that image."}]}}]}),
            "I can't make that image",
        ),
        (
            IMAGEN,
            Reply(200, {"predictions": [{"raiFilteredReason": "Filtered: violates the usage guidelines."}]}),
            "usage guidelines",
        ),
        (IMAGEN, Reply(200, {}), "all were filtered"),
        (
            IMAGEN,
            Reply(
                400,
                google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "Image generation failed with the following error: The prompt could not be submitted. "
                    "This prompt contains sensitive words that violate Google's Responsible AI practices.",
                ),
            ),
            "sensitive words",
        ),
    ],
)
def test_a_safety_block_is_generation_refused_and_not_retried(make, stub, model, reply, says):
    stub.add("POST", GENERATE if model == GEMINI else PREDICT, reply)
    with pytest.raises(GenerationRefused, match=says):
        make(model, vertex=model == IMAGEN).generate(GenerationRequest("something forbidden", seed=0))
    assert len(stub.requests) == 1


def test_an_unknown_model_is_named(make, stub):
    stub.add(
        "POST",
        GENERATE,
        Reply(404, google_error(404, "NOT_FOUND", f"models/{GEMINI} is not found for API version v1beta")),
    )
    with pytest.raises(UnknownModelError, match=f"does not know the model '{GEMINI}'"):
        make().generate(GenerationRequest("a fox", seed=0))


def test_parameters_the_model_does_not_take_are_input_errors(make, stub):
    with pytest.raises(InputError, match="takes no step count"):
        make().generate(GenerationRequest("a fox", seed=0, steps=20))
    with pytest.raises(InputError, match="no guidance or negative prompt"):
        make().generate(GenerationRequest("a fox", seed=0, negative_prompt="blur"))
    with pytest.raises(InputError, match="aspect ratio 5:3, which this model does not make"):
        make(IMAGEN, vertex=True).generate(GenerationRequest("a fox", seed=0, width=1000, height=600))
    with pytest.raises(InputError, match="person_generation must be one of"):
        make(IMAGEN, vertex=True, person_generation="everyone").generate(GenerationRequest("a fox", seed=0))
    with pytest.raises(InputError, match="needs project"):
        make(vertex=True, project=None)
    assert stub.requests == []


def test_imagen_on_the_gemini_api_is_an_input_error(make, stub):
    with pytest.raises(InputError, match=r"only supported in.*set vertexai = true"):
        make(IMAGEN).generate(GenerationRequest("a fox", seed=0))


def test_malformed_answers_are_one_line_errors(make, stub):
    stub.add(
        "POST",
        GENERATE,
        Reply(200, {"candidates": []}),
        Reply(200, body=b"<html>a proxy's page</html>", headers={"Content-Type": "text/html"}),
        Reply(200, {"candidates": [{"content": {"parts": "not a list"}}]}),
    )
    with pytest.raises(GeneratorError, match="without a candidate"):
        make().generate(GenerationRequest("a fox", seed=0))
    for _ in range(2):
        with pytest.raises(GeneratorError, match="in a shape the SDK cannot read") as caught:
            make().generate(GenerationRequest("a fox", seed=0))
        assert "\n" not in str(caught.value) and not isinstance(caught.value, InputError)


def test_check_looks_the_model_up(make, stub):
    stub.add(
        "GET", f"/v1beta/models/{GEMINI}", Reply(200, {"name": f"models/{GEMINI}", "displayName": "Nano"})
    )
    assert make().check() == f"{stub.url} answers; model 'models/{GEMINI}' found"
    assert stub.requests[0].headers["x-goog-api-key"] == KEY


def test_the_key_is_in_no_log_repr_or_image_record(make, stub, png, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and the SDK log requests at DEBUG
    stub.add(
        "POST",
        GENERATE,
        Reply(500, google_error(500, "INTERNAL", f"echo {KEY}")),
        Reply(429, google_error(429, "RESOURCE_EXHAUSTED", KEY), headers={"Retry-After": "0"}),
        Reply(200, content(png)),
    )
    gen = make()
    [image] = gen.generate(GenerationRequest("a fox", seed=0))
    stub.add(
        "POST", GENERATE, Reply(403, google_error(403, "PERMISSION_DENIED", f"key {KEY} is not allowed"))
    )
    with pytest.raises(GeneratorAuthError) as caught:
        gen.generate(GenerationRequest("a fox", seed=0))
    assert "retry 1 of 2" in caplog.text  # the retries were logged...
    for text in (caplog.text, repr(gen), repr(gen.config), repr(image), str(caught.value)):
        assert KEY not in text  # ...and the key nowhere


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1024, 1024, "1:1"), (1024, None, "1:1"), (None, 768, "1:1"), (1536, 864, "16:9"), (None, None, None)],
)
def test_aspect_ratio_of_a_size(width, height, expected):
    assert aspect_ratio(width, height, ("1:1", "16:9")) == expected


def test_a_size_of_no_ratio_the_api_takes_is_refused():
    with pytest.raises(InputError, match="7:9"):
        aspect_ratio(896, 1152, ("1:1", "16:9"))


def test_vertex_without_a_token_variable_uses_default_credentials(make, stub, tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud login here
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # and no metadata server to ask
    with pytest.raises(GeneratorAuthError, match="no Google Cloud credentials found: run gcloud auth"):
        make(IMAGEN, vertex=True, api_key_env=None).generate(GenerationRequest("a fox", seed=0))
    assert stub.requests == []


def test_an_entry_of_the_generators_file_builds_the_backend():
    table = {
        "backend": "google",
        "model": IMAGEN,
        "vertexai": True,
        "project": "my-project",
        "location": "europe-west4",
        "add_watermark": False,
        "safety_filter_level": "block_only_high",
        "size": "1024x1024",
    }
    generator = create(parse_entry("imagen", table))
    assert isinstance(generator, GoogleGenerator)
    assert generator.imagen and generator.vertexai and generator.add_watermark is False
    assert repr(generator) == f"GoogleGenerator(name='imagen', model='{IMAGEN}', api='vertex-ai')"


def test_without_google_genai_the_error_names_the_gen_extra(make, monkeypatch):
    import sys

    import google

    monkeypatch.delattr(google, "genai", raising=False)
    monkeypatch.setitem(sys.modules, "google.genai", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r"'google-genai' package \(the 'gen' extra\)"):
        make().generate(GenerationRequest("a fox", seed=0))
