"""The ``google`` generator: Imagen and Gemini image models through the google-genai SDK, on the Gemini API
(an API key) or on Vertex AI (``vertexai = true`` with ``project`` and ``location``).

- Imagen (a model named ``imagen-*``): ``models.generate_images``, the ``:predict`` call; the SDK serves
  it on Vertex AI. Up to 4 images per call; images the service filtered out are left out of the answer,
  and a call that returns none is a refusal. Imagen takes a seed only without its watermark, so images
  report seed None unless the entry sets ``add_watermark = false``; then each image is its own call with
  seed + k.
- Gemini (any other model, such as ``gemini-2.5-flash-image``): ``models.generate_content`` asking for
  image output, one image per call with seed + k; the image is the answer's ``inlineData`` part.

Size: width x height becomes the aspect ratio the APIs take (``aspect_ratio`` and ``image_size`` may also
be set in the entry); neither family takes a step count, and Gemini takes no guidance or negative prompt,
so asking for them is an error rather than silently ignored.

Credentials: on the Gemini API the key comes from the variable ``api_key_env`` names; on Vertex AI that
variable, when named, holds an OAuth2 access token, else the SDK uses google-auth's application default
credentials. Nothing is read from other variables (the SDK's GOOGLE_API_KEY lookup is never reached).
The SDK's own retries are off: calls are retried here as imagearena.generators.http retries (429 and
5xx, honouring Retry-After, exponential backoff with full jitter), and errors become the generator
errors: 401/403 and an invalid key GeneratorAuthError, 404 UnknownModelError, a safety block
(an error that says so, ``promptFeedback.blockReason``, a safety ``finishReason``, Imagen's
``raiFilteredReason``) GenerationRefused, timeouts and exhausted retries GeneratorUnavailable.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, TypeVar

from imagearena.errors import InputError, MissingDependencyError
from imagearena.generators.config import (
    GeneratorConfig,
    bool_option,
    float_option,
    int_option,
    request_batches,
    str_option,
)
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.generators.http import (
    HTTP_OPTIONS,
    RETRY_STATUSES,
    RetryPolicy,
    one_line,
    retry_after_seconds,
)
from imagearena.types import GeneratedImage, GenerationRequest

T = TypeVar("T")

DEFAULT_LOCATION = "us-central1"
IMAGEN_PER_CALL = 4
IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
#: finishReason / blockReason values that mean the prompt or the image was refused.
SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
        "JAILBREAK",
        "MODEL_ARMOR",
    }
)
SAFETY_WORDS = re.compile(
    r"responsible ai|safety|sensitive words|blocked|prohibited|usage guidelines", re.IGNORECASE
)
BAD_KEY_WORDS = re.compile(r"api key not valid|api_key_invalid|api key expired", re.IGNORECASE)


def require_genai() -> Any:
    """Import google-genai, or say which extra installs it."""
    try:
        from google import genai
    except ImportError:
        raise MissingDependencyError("the google generator", "gen", "google-genai") from None
    return genai


def aspect_ratio(width: int | None, height: int | None, allowed: tuple[str, ...]) -> str | None:
    """The ratio ``allowed`` names for width x height (None when neither is given); an InputError when the
    size has none of those ratios."""
    if width is None and height is None:
        return None
    width = width or height
    height = height or width
    assert width is not None and height is not None
    divisor = math.gcd(width, height)
    ratio = f"{width // divisor}:{height // divisor}"
    if ratio not in allowed:
        raise InputError(
            f"size {width}x{height} has the aspect ratio {ratio}, which this model does not make: use a size "
            f"with one of {', '.join(allowed)}, or set aspect_ratio"
        )
    return ratio


class GoogleGenerator:
    """Imagen or Gemini image models through google-genai."""

    OPTIONS = HTTP_OPTIONS | frozenset(
        {
            "vertexai",
            "project",
            "location",
            "api_version",
            "aspect_ratio",
            "image_size",
            "add_watermark",
            "person_generation",
            "safety_filter_level",
            "enhance_prompt",
        }
    )

    def __init__(self, config: GeneratorConfig) -> None:
        if not config.model:
            raise InputError(
                f"generator {config.name!r}: the google backend needs model = an Imagen or Gemini image "
                "model, such as imagen-4.0-generate-001 or gemini-2.5-flash-image"
            )
        self.config = config
        self.name = config.name
        self.model = config.model
        self.imagen = self.model.removeprefix("models/").startswith("imagen")
        self.vertexai = bool_option(config, "vertexai", False)
        self.project = str_option(config, "project")
        self.location = str_option(config, "location", DEFAULT_LOCATION)
        if self.vertexai and not self.project:
            raise InputError(
                f'generator {config.name!r}: Vertex AI needs project = "<project id>" (and location, '
                f"{DEFAULT_LOCATION} when left out)"
            )
        self.api_version = str_option(config, "api_version")
        self.aspect_ratio = str_option(config, "aspect_ratio")
        self.image_size = str_option(config, "image_size")
        self.add_watermark = _optional_bool(config, "add_watermark")
        self.person_generation = str_option(config, "person_generation")
        self.safety_filter_level = str_option(config, "safety_filter_level")
        self.enhance_prompt = _optional_bool(config, "enhance_prompt")
        self.retry = RetryPolicy(
            max_retries=int_option(config, "max_retries", 3, 0, 20),
            cap_s=float_option(config, "retry_cap_s", 30.0, 0.0, 3600.0),
        )
        self.sleep: Callable[[float], None] = time.sleep
        self.rng = random.Random()
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._client: Any = None
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        api = "vertex-ai" if self.vertexai else "gemini-api"
        return f"GoogleGenerator(name={self.name!r}, model={self.model!r}, api={api!r})"

    @property
    def where(self) -> str:
        return f"generator {self.name!r}"

    @property
    def base_url(self) -> str:
        """Where the SDK sends requests: the entry's base_url, else the API's own endpoint."""
        if self.config.base_url:
            return self.config.base_url
        if self.vertexai:
            return f"https://{self.location}-aiplatform.googleapis.com"
        return "https://generativelanguage.googleapis.com"

    @property
    def service(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        return f"Vertex AI ({self.project}, {self.location})" if self.vertexai else "the Gemini API"

    # --- the SDK client -------------------------------------------------------------------------------

    def _sdk(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> Any:
        genai = require_genai()
        from google.genai import types

        options: dict[str, Any] = {"timeout": max(1, int(self.config.timeout_s * 1000))}
        if self.config.base_url:
            options["base_url"] = self.config.base_url
        if self.api_version:
            options["api_version"] = self.api_version
        http_options = types.HttpOptions(**options)
        secret = self.config.api_key()
        if not self.vertexai:
            if secret is None:
                raise GeneratorAuthError(
                    f"{self.where}: the Gemini API needs a key: set api_key_env to the variable that holds it "
                    "(such as GEMINI_API_KEY), or set vertexai = true with project and location"
                )
            self._secrets = (secret,)
            return genai.Client(api_key=secret, http_options=http_options)
        credentials = None
        if secret is not None:
            from google.oauth2.credentials import Credentials

            self._secrets = (secret,)
            credentials = Credentials(token=secret)  # type: ignore[no-untyped-call]
        try:
            return genai.Client(
                vertexai=True,
                project=self.project,
                location=self.location,
                credentials=credentials,
                http_options=http_options,
            )
        except ValueError as exc:  # the SDK's own check of project, location and credentials
            raise InputError(f"{self.where}: {self._redact(str(exc))}") from None
        except Exception as exc:
            failure = self._auth_failure(exc)
            if failure is None:
                raise
            raise failure from None

    def _auth_failure(self, exc: Exception) -> GeneratorError | None:
        """The one-line error for a google-auth failure, None for any other exception."""
        import google.auth.exceptions

        if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
            return GeneratorAuthError(
                f"{self.where}: no Google Cloud credentials found: run gcloud auth application-default login, "
                "set GOOGLE_APPLICATION_CREDENTIALS, or name a variable holding an access token with api_key_env"
            )
        if isinstance(exc, google.auth.exceptions.GoogleAuthError):
            return GeneratorAuthError(
                f"{self.where}: the Google Cloud credentials could not be used ({self._redact(str(exc))}): "
                "run gcloud auth application-default login again"
            )
        return None

    def _redact(self, text: str) -> str:
        return one_line(text, self._secrets)

    # --- calls, retries and errors --------------------------------------------------------------------

    def _call(self, what: Callable[[Any], T]) -> T:
        """Run one SDK call with this module's retries, turning every failure into a generator error."""
        require_genai()
        import pydantic
        from google.auth import exceptions as auth_exceptions
        from google.genai import errors

        client = self._sdk()
        transport = _Transport.load()
        for attempt in range(self.retry.max_retries + 1):
            last = attempt == self.retry.max_retries
            try:
                with self._slots, warnings.catch_warnings():
                    # generate_images carries the SDK's deprecation notice for Imagen on every call
                    warnings.simplefilter("ignore")
                    return what(client)
            except errors.APIError as exc:
                code = int(exc.code or 0)
                text = self._redact(str(exc.message or exc.status or exc))
                named = self._classify(code, text, exc)
                if named is not None:
                    raise named from None
                if code in RETRY_STATUSES and not last:
                    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
                    wait = retry_after_seconds(headers.get("retry-after"))
                    if wait is not None and wait > self.retry.max_retry_after_s:
                        raise GeneratorUnavailable(
                            f"{self.where}: {self.service} asks to wait {wait:.0f} s (HTTP {code}): {text}; "
                            "try again later"
                        ) from None
                    self._wait(attempt, wait, f"HTTP {code}")
                    continue
                raise self._status_error(code, text, attempt) from None
            except transport.errors as exc:
                if isinstance(exc, transport.never_sent) and not last:
                    self._wait(attempt, None, type(exc).__name__)
                    continue
                if isinstance(exc, transport.timeouts):
                    raise GeneratorUnavailable(
                        f"{self.where}: {self.service} did not answer within {self.config.timeout_s:g} s: "
                        "raise timeout_s in the generators file, or try again later"
                    ) from None
                raise GeneratorUnavailable(
                    f"{self.where}: cannot reach {self.service} ({self._redact(str(exc)) or type(exc).__name__}): "
                    "is the network up?"
                ) from None
            except auth_exceptions.GoogleAuthError as exc:
                failure = self._auth_failure(exc)
                assert failure is not None
                raise failure from None
            except (errors.UnknownApiResponseError, json.JSONDecodeError, pydantic.ValidationError) as exc:
                raise GeneratorError(
                    f"{self.where}: {self.service} answered in a shape the SDK cannot read: "
                    f"{self._redact(str(exc))}"
                ) from None
            except ValueError as exc:  # the SDK refuses a call the chosen API does not offer
                hint = (
                    " (Imagen: set vertexai = true with project)" if self.imagen and not self.vertexai else ""
                )
                raise InputError(f"{self.where}: {self._redact(str(exc))}{hint}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        import logging

        wait = retry_after if retry_after is not None else self.retry.backoff(attempt, self.rng)
        logging.getLogger(__name__).warning(
            "generator %r: %s from %s; retry %d of %d in %.2f s",
            self.name, why, self.service, attempt + 1, self.retry.max_retries, wait,
        )  # fmt: skip
        self.sleep(wait)

    def _classify(self, code: int, text: str, exc: Exception) -> GeneratorError | None:
        details = self._redact(str(getattr(exc, "details", "")))
        if code in (401, 403) or (code == 400 and BAD_KEY_WORDS.search(f"{text} {details}")):
            if self.config.api_key_env:
                fix = f"check the {'token' if self.vertexai else 'key'} in ${self.config.api_key_env}"
            elif self.vertexai:
                fix = "check the application default credentials (gcloud auth application-default login)"
            else:
                fix = "set api_key_env to the variable that holds the key"
            return GeneratorAuthError(
                f"{self.where}: {self.service} refused the credentials (HTTP {code}: {text}): {fix}"
            )
        if code == 404:
            return UnknownModelError(
                f"{self.where}: {self.service} does not know the model {self.model!r} (HTTP 404: {text}): check "
                "model in the generators file"
                + ("" if self.vertexai else ", and whether it needs vertexai = true")
            )
        if code == 400 and SAFETY_WORDS.search(text):
            return GenerationRefused(
                f"{self.where}: {self.service} refused the prompt (safety block): {text}"
            )
        return None

    def _status_error(self, code: int, text: str, retried: int) -> GeneratorError:
        if code in RETRY_STATUSES:
            tries = f" after {retried} retries" if retried else ""
            return GeneratorUnavailable(f"{self.where}: {self.service} answered HTTP {code}{tries}: {text}")
        return GeneratorError(f"{self.where}: {self.service} rejected the request (HTTP {code}): {text}")

    # --- generation ---------------------------------------------------------------------------------

    def check(self) -> str:
        """Looks the model up (models.get): the credentials work and the service knows the model."""
        found = self._call(lambda client: client.models.get(model=self.model))
        return f"{self.service} answers; model {getattr(found, 'name', None) or self.model!r} found"

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        req = self.config.complete(request)
        require_genai()
        if req.steps is not None:
            raise InputError(
                f"{self.where}: {self.model} takes no step count: leave steps out for this generator"
            )
        ratios = IMAGEN_RATIOS if self.imagen else GEMINI_RATIOS
        ratio = self.aspect_ratio or aspect_ratio(req.width, req.height, ratios)
        record: dict[str, object] = {
            "backend": "google",
            "model": self.model,
            "api": "vertex-ai" if self.vertexai else "gemini-api",
        }
        if ratio:
            record["aspect_ratio"] = ratio
        if self.image_size:
            record["image_size"] = self.image_size
        if self.imagen:
            return self._imagen(req, ratio, record)
        if req.guidance is not None or req.negative_prompt:
            raise InputError(
                f"{self.where}: {self.model} takes no guidance or negative prompt: leave them out for this generator"
            )
        return [self._gemini(req.prompt, req.seed + k, ratio, record) for k in range(req.n)]

    def _imagen(
        self, req: GenerationRequest, ratio: str | None, record: dict[str, object]
    ) -> list[GeneratedImage]:
        from google.genai import types

        batches = request_batches(req, IMAGEN_PER_CALL, seeded=self.add_watermark is False)
        params = dict(record)
        if req.guidance is not None:
            params["guidance"] = req.guidance
        if req.negative_prompt:
            params["negative_prompt"] = req.negative_prompt
        images: list[GeneratedImage] = []
        for count, seed in batches:
            config = types.GenerateImagesConfig(
                number_of_images=count,
                seed=seed,
                aspect_ratio=ratio,
                image_size=self.image_size,
                guidance_scale=req.guidance,
                negative_prompt=req.negative_prompt or None,
                add_watermark=self.add_watermark,
                person_generation=_enum(types.PersonGeneration, self.person_generation, "person_generation"),
                safety_filter_level=_enum(
                    types.SafetyFilterLevel, self.safety_filter_level, "safety_filter_level"
                ),
                enhance_prompt=self.enhance_prompt,
                include_rai_reason=True,
            )

            def call(client: Any, config: Any = config) -> Any:
                return client.models.generate_images(model=self.model, prompt=req.prompt, config=config)

            response = self._call(call)
            made = [g for g in (response.generated_images or []) if g.image and g.image.image_bytes]
            if not made:
                reasons = [
                    g.rai_filtered_reason for g in (response.generated_images or []) if g.rai_filtered_reason
                ]
                why = (
                    self._redact("; ".join(reasons)) if reasons else "no image came back (all were filtered)"
                )
                raise GenerationRefused(
                    f"{self.where}: {self.service} refused the prompt (safety block): {why}"
                )
            for generated in made:
                extra = {"enhanced_prompt": generated.enhanced_prompt} if generated.enhanced_prompt else {}
                images.append(
                    GeneratedImage(
                        data=generated.image.image_bytes,
                        seed=seed,
                        params={**params, **extra, "mime_type": generated.image.mime_type},
                    )
                )
        return images

    def _gemini(self, prompt: str, seed: int, ratio: str | None, record: dict[str, object]) -> GeneratedImage:
        from google.genai import types

        image_config = None
        if ratio or self.image_size or self.person_generation:
            image_config = types.ImageConfig(
                aspect_ratio=ratio, image_size=self.image_size, person_generation=self.person_generation
            )
        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"], seed=seed, image_config=image_config
        )
        response = self._call(
            lambda client: client.models.generate_content(model=self.model, contents=prompt, config=config)
        )
        feedback = getattr(response, "prompt_feedback", None)
        blocked = getattr(feedback, "block_reason", None) if feedback else None
        if blocked:
            message = getattr(feedback, "block_reason_message", None) or _enum_name(blocked)
            raise GenerationRefused(
                f"{self.where}: {self.service} refused the prompt (blocked: {self._redact(str(message))})"
            )
        candidates = response.candidates or []
        if not candidates:
            raise GeneratorError(f"{self.where}: {self.service} answered without a candidate")
        candidate = candidates[0]
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        image = next((p.inline_data for p in parts if p.inline_data and p.inline_data.data), None)
        reason = _enum_name(candidate.finish_reason) if candidate.finish_reason else None
        if image is None:
            if reason in SAFETY_REASONS:
                raise GenerationRefused(
                    f"{self.where}: {self.service} refused the prompt (finishReason {reason})"
                )
            text = self._redact(" ".join(p.text for p in parts if p.text))
            if text:
                raise GenerationRefused(f"{self.where}: {self.model} answered with text and no image: {text}")
            raise GeneratorError(
                f"{self.where}: {self.service} answered without an image (finishReason {reason or 'none'})"
            )
        return GeneratedImage(
            data=image.data,
            seed=seed,
            params={**record, "mime_type": image.mime_type, "finish_reason": reason},
        )


@dataclass(frozen=True, slots=True)
class _Transport:
    """The exception classes of the HTTP libraries the SDK may send with: httpx, and the httpx2 fork
    it prefers where installed."""

    errors: tuple[type[Exception], ...]
    never_sent: tuple[type[Exception], ...]  # no connection was made: safe to retry a generation
    timeouts: tuple[type[Exception], ...]

    @classmethod
    def load(cls) -> _Transport:
        modules = [m for m in (_optional_module("httpx"), _optional_module("httpx2")) if m is not None]
        return cls(
            errors=tuple(m.TransportError for m in modules),
            never_sent=tuple(c for m in modules for c in (m.ConnectError, m.ConnectTimeout, m.PoolTimeout)),
            timeouts=tuple(m.TimeoutException for m in modules),
        )


def _optional_module(name: str) -> Any:
    try:
        return import_module(name)
    except ImportError:
        return None


def _optional_bool(config: GeneratorConfig, key: str) -> bool | None:
    """A true/false option, or None when the entry leaves it to the service."""
    return None if config.options.get(key) is None else bool_option(config, key, False)


def _enum(kind: Any, value: str | None, key: str) -> Any:
    """``value`` (any case) as the SDK's enum ``kind``; an InputError listing the values it takes."""
    if value is None:
        return None
    for member in kind:
        if member.value.lower() == value.lower():
            return member
    allowed = ", ".join(member.value.lower() for member in kind)
    raise InputError(f"{key} must be one of {allowed}, not {value!r}")


def _enum_name(value: object) -> str:
    return str(getattr(value, "value", value))
