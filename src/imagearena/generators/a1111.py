"""The AUTOMATIC1111 web UI API (also served by Forge and SD.Next): ``POST {base_url}/sdapi/v1/txt2img``.

The server must run with ``--api``. The entry's ``model`` names a checkpoint as the server lists it at
``/sdapi/v1/sd-models`` (its title, its name without the hash, or its hash); it is looked up once, so a
wrong name is an UnknownModelError before anything is generated, and it is used for each request through
``override_settings`` (the server's loaded model is restored afterwards). A server behind
``--api-auth user:password`` takes that pair from the variable ``api_key_env`` names (HTTP Basic).

A batch of n images uses seeds seed .. seed + n - 1, as the server numbers them; each image reports the
seed and parameters the server says it used. The API itself has no safety filter: hosts and extensions
that refuse a prompt answer 4xx naming NSFW or safety, which becomes GenerationRefused.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from imagearena.generators.config import GeneratorConfig, str_option, table_option
from imagearena.generators.errors import GenerationRefused, GeneratorError, UnknownModelError
from imagearena.generators.http import HTTP_OPTIONS, ApiClient, Reply, decode_base64
from imagearena.types import GeneratedImage, GenerationRequest

DEFAULT_BASE_URL = "http://127.0.0.1:7860"
TXT2IMG = "/sdapi/v1/txt2img"
MODELS = "/sdapi/v1/sd-models"
SAFETY_WORDS = re.compile(r"nsfw|safety|content polic|unsafe", re.IGNORECASE)
#: What the answer's ``info`` reports that an image's record keeps.
_INFO_KEYS = ("sd_model_name", "sd_model_hash", "width", "height", "steps", "cfg_scale", "sampler_name")


class A1111Generator:
    """Images from an AUTOMATIC1111-compatible ``txt2img`` endpoint."""

    #: Where the service answers when the entry names no base_url.
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    OPTIONS = HTTP_OPTIONS | frozenset({"sampler", "scheduler", "extra_body", "auth"})

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.name = config.name
        self.base_url = config.base_url or DEFAULT_BASE_URL
        self.sampler = str_option(config, "sampler")
        self.scheduler = str_option(config, "scheduler")
        self.extra_body = table_option(config, "extra_body")
        auth = str_option(config, "auth", "basic", ("basic", "bearer"))
        assert auth is not None
        self.client = ApiClient(config, self.base_url, auth=auth, classify=self._classify)
        self._checkpoint: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connections to the service; a later request opens new ones."""
        self.client.close()

    def __repr__(self) -> str:
        return f"A1111Generator(name={self.name!r}, model={self.config.model!r}, base_url={self.base_url!r})"

    def _classify(self, reply: Reply, text: str) -> GeneratorError | None:
        if (
            400 <= reply.status < 500
            and reply.status not in (401, 403, 404, 429)
            and SAFETY_WORDS.search(text)
        ):
            return GenerationRefused(f"generator {self.name!r}: the server refused the prompt: {text}")
        return None

    def _models(self) -> list[dict[str, Any]]:
        listed = self.client.json("GET", MODELS)
        if not isinstance(listed, list):
            raise GeneratorError(f"generator {self.name!r}: {self.base_url}{MODELS} did not answer a list")
        return [m for m in listed if isinstance(m, dict)]

    def checkpoint(self) -> str | None:
        """The server's title of the configured model (looked up once), None when the entry names none."""
        model = self.config.model
        if model is None:
            return None
        with self._lock:
            if self._checkpoint is None:
                self._checkpoint = self._find(model, self._models())
            return self._checkpoint

    def _find(self, model: str, listed: list[dict[str, Any]]) -> str:
        for entry in listed:
            title = str(entry.get("title") or "")
            names = {title, str(entry.get("model_name") or ""), str(entry.get("hash") or "")}
            names.add(re.sub(r"\s*\[[0-9a-f]+\]$", "", title))  # the title without its hash
            sha256 = str(entry.get("sha256") or "")
            if model in names or (len(model) >= 10 and sha256.startswith(model)):
                return title
        known = ", ".join(repr(m.get("model_name") or m.get("title")) for m in listed[:8]) or "none"
        raise UnknownModelError(
            f"generator {self.name!r}: {self.base_url} has no checkpoint {model!r} (it has {known}"
            f"{', ...' if len(listed) > 8 else ''}): check model in the generators file"
        )

    def check(self) -> str:
        listed = self._models()
        if self.config.model is None:
            return f"{self.base_url} answers with {len(listed)} checkpoints"
        title = self._find(self.config.model, listed)
        return f"{self.base_url} answers; checkpoint {title!r} found"

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        req = self.config.complete(request)
        body: dict[str, Any] = {
            "prompt": req.prompt,
            "negative_prompt": req.negative_prompt or "",
            "seed": req.seed,
            "batch_size": req.n,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        width = req.width if req.width is not None else req.height  # one side given: a square
        height = req.height if req.height is not None else req.width
        for key, value in (
            ("width", width),
            ("height", height),
            ("steps", req.steps),
            ("cfg_scale", req.guidance),
            ("sampler_name", self.sampler),
            ("scheduler", self.scheduler),
        ):
            if value is not None:
                body[key] = value
        checkpoint = self.checkpoint()
        if checkpoint is not None:
            body["override_settings"] = {"sd_model_checkpoint": checkpoint}
            body["override_settings_restore_afterwards"] = True
        body.update(self.extra_body)
        answer = self.client.json("POST", TXT2IMG, json_body=body)
        return self._images(answer, req)

    def _images(self, answer: Any, req: GenerationRequest) -> list[GeneratedImage]:
        where = f"generator {self.name!r}"
        encoded = answer.get("images") if isinstance(answer, dict) else None
        if not isinstance(encoded, list) or len(encoded) < req.n:
            raise GeneratorError(
                f"{where}: {self.base_url}{TXT2IMG} answered without the {req.n} images asked for"
            )
        info = _info(answer.get("info"))
        seeds = info.get("all_seeds")
        if not (isinstance(seeds, list) and len(seeds) >= req.n and all(isinstance(s, int) for s in seeds)):
            seeds = [req.seed + k for k in range(req.n)]
        params: dict[str, object] = {"backend": "a1111"}
        params.update({key: info[key] for key in _INFO_KEYS if info.get(key) is not None})
        if req.negative_prompt:
            params["negative_prompt"] = req.negative_prompt
        # Extensions (ControlNet and others) append their own images after the batch: keep the batch.
        return [
            GeneratedImage(
                data=decode_base64(encoded[k], f"{where}: image {k + 1} of the answer"),
                seed=seeds[k],
                params=params,
            )
            for k in range(req.n)
        ]


def _info(raw: object) -> dict[str, Any]:
    """The answer's ``info``: a JSON document sent as a string (or, by some forks, as an object)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}
