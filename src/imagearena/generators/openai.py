"""The OpenAI-compatible Images API: ``POST {base_url}/images/generations``, images as ``b64_json`` or
``url``. OpenAI itself and the many hosts that speak its shape (local servers, gateways) are reached the
same way; the key comes from the variable ``api_key_env`` names.

The API has no seed, steps, guidance or negative prompt: images report seed None unless the entry sets
``send_seed = true`` for a host that takes one (then each image is its own request with seed + k), and
host-specific fields go in ``extra_body``. Errors in the API's ``{"error": {"code", "message"}}`` shape
are named: a safety block (``content_policy_violation``, ``moderation_blocked``) is GenerationRefused,
``model_not_found`` UnknownModelError, an exhausted quota GeneratorUnavailable without retrying.
"""

from __future__ import annotations

import re
from typing import Any

from imagearena.generators.config import (
    GeneratorConfig,
    bool_option,
    int_option,
    request_batches,
    str_option,
    table_option,
)
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.generators.http import HTTP_OPTIONS, ApiClient, Reply, decode_base64
from imagearena.types import GeneratedImage, GenerationRequest

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SAFETY_CODES = frozenset(
    {"content_policy_violation", "moderation_blocked", "content_filter", "safety_violation"}
)
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
#: Hosts that speak the shape without the codes still say why in words.
SAFETY_WORDS = re.compile(r"safety system|content polic|content filter|moderation|nsfw", re.IGNORECASE)
_PASSED_THROUGH = ("quality", "style", "background", "moderation", "output_format")


def _error_fields(reply: Reply) -> tuple[str, str, str]:
    data = reply.json()
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", "", ""
    return tuple(str(error.get(key) or "") for key in ("code", "type", "param"))  # type: ignore[return-value]


class OpenAIGenerator:
    """Images from an OpenAI-compatible ``/images/generations`` endpoint."""

    #: Where the service answers when the entry names no base_url.
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    OPTIONS = HTTP_OPTIONS | frozenset(
        {*_PASSED_THROUGH, "response_format", "send_seed", "images_per_request", "extra_body", "auth"}
    )

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.name = config.name
        self.model = config.model
        self.base_url = config.base_url or DEFAULT_BASE_URL
        self.response_format = str_option(config, "response_format", None, ("b64_json", "url"))
        self.send_seed = bool_option(config, "send_seed", False)
        # dall-e-3 makes one image per request; other models up to 10.
        default_n = 1 if (self.model or "").startswith("dall-e-3") else 10
        self.images_per_request = int_option(config, "images_per_request", default_n, 1, 10)
        self.passed = {key: str_option(config, key) for key in _PASSED_THROUGH}
        self.extra_body = table_option(config, "extra_body")
        auth = str_option(config, "auth", "bearer")
        assert auth is not None
        self.client = ApiClient(config, self.base_url, auth=auth, classify=self._classify)

    def close(self) -> None:
        """Close the connections to the service; a later request opens new ones."""
        self.client.close()

    def __repr__(self) -> str:
        return f"OpenAIGenerator(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    def _classify(self, reply: Reply, text: str) -> GeneratorError | None:
        code, kind, param = _error_fields(reply)
        where = f"generator {self.name!r}"
        if code in SAFETY_CODES or (reply.status == 400 and SAFETY_WORDS.search(text)):
            return GenerationRefused(f"{where}: the service refused the prompt (safety block): {text}")
        if code == "model_not_found" or (reply.status in (400, 404) and param == "model"):
            return UnknownModelError(
                f"{where}: {self.base_url} does not know the model {self.model!r} ({text}): "
                "check model in the generators file"
            )
        if reply.status == 429 and (code in QUOTA_CODES or kind in QUOTA_CODES):
            return GeneratorUnavailable(
                f"{where}: the account's quota is used up ({text}): check its billing"
            )
        return None

    def check(self) -> str:
        """List the service's models; the configured model must be among them when the list is given."""
        try:
            data = self.client.json("GET", "/models")
        except UnknownModelError:
            return f"{self.base_url} answers (it lists no models at /models)"
        listed = data.get("data") if isinstance(data, dict) else None
        ids = (
            {item.get("id") for item in listed if isinstance(item, dict)}
            if isinstance(listed, list)
            else set()
        )
        if self.model and ids and self.model not in ids:
            raise UnknownModelError(
                f"generator {self.name!r}: {self.base_url} does not list the model {self.model!r}: check model "
                "in the generators file"
            )
        return (
            f"{self.base_url} answers; model {self.model!r} listed"
            if self.model
            else f"{self.base_url} answers"
        )

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        req = self.config.complete(request)
        size = f"{req.width}x{req.height or req.width}" if req.width else None
        if req.height and not req.width:
            size = f"{req.height}x{req.height}"
        batches = request_batches(req, self.images_per_request, seeded=self.send_seed)
        images: list[GeneratedImage] = []
        for count, seed in batches:
            body: dict[str, Any] = {"prompt": req.prompt, "n": count}
            if self.model:
                body["model"] = self.model
            if size:
                body["size"] = size
            if self.response_format:
                body["response_format"] = self.response_format
            body.update({key: value for key, value in self.passed.items() if value is not None})
            if seed is not None:
                body["seed"] = seed
            body.update(self.extra_body)
            images.extend(self._images(body, count, seed))
        return images

    def _images(self, body: dict[str, Any], count: int, seed: int | None) -> list[GeneratedImage]:
        data = self.client.json("POST", "/images/generations", json_body=body)
        items = data.get("data") if isinstance(data, dict) else None
        where = f"generator {self.name!r}"
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise GeneratorError(f"{where}: {self.base_url} answered without images (no 'data' list)")
        if len(items) > count:
            raise GeneratorError(f"{where}: asked for {count} images, {self.base_url} sent {len(items)}")
        params_common = {key: value for key, value in body.items() if key not in ("prompt", "n", "seed")}
        out = []
        for item in items:
            if item.get("b64_json") is not None:
                raw = decode_base64(item["b64_json"], f"{where}: the image in 'b64_json'")
            elif isinstance(item.get("url"), str):
                raw = self.client.download(item["url"])
            else:
                raise GeneratorError(f"{where}: an image in the answer has neither 'b64_json' nor 'url'")
            params: dict[str, object] = {"backend": "openai", **params_common}
            if isinstance(item.get("revised_prompt"), str):
                params["revised_prompt"] = item["revised_prompt"]
            out.append(GeneratedImage(data=raw, seed=seed, params=params))
        return out
