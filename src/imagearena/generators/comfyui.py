"""A ComfyUI workflow as a generator: the prompt, seed and parameters filled in, queued, awaited.

The entry's ``workflow`` is a workflow saved in ComfyUI's API format ("Export (API)"), a JSON object of
nodes. Where a node input's value is one of these placeholders, the request's value replaces it:
``{{prompt}}`` and ``{{seed}}`` (both required), ``{{negative_prompt}}``, ``{{width}}``, ``{{height}}``,
``{{steps}}``, ``{{guidance}}``, ``{{model}}`` (the entry's model) and ``{{batch_size}}``. Each image is
its own queued prompt with seed + k and a batch of one, so image k of n is reproducible by itself.

The run: ``POST /prompt`` queues the workflow, ``GET /history/{id}`` is polled every ``poll_s`` seconds
until the run ends (or ``timeout_s`` passes), and the first output image is read from ``GET /view``. A
checkpoint the server does not have (a ``value_not_in_list`` validation error) is UnknownModelError; a run
that fails on a safety or NSFW check is GenerationRefused.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from imagearena.errors import InputError
from imagearena.generators.config import (
    GeneratorConfig,
    float_option,
    path_option,
    str_option,
)
from imagearena.generators.errors import (
    GenerationRefused,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.generators.http import HTTP_OPTIONS, ApiClient, Reply
from imagearena.types import GeneratedImage, GenerationRequest

DEFAULT_BASE_URL = "http://127.0.0.1:8188"
PLACEHOLDERS = (
    "prompt",
    "negative_prompt",
    "seed",
    "width",
    "height",
    "steps",
    "guidance",
    "model",
    "batch_size",
)
REQUIRED = ("prompt", "seed")
MAX_WORKFLOW_BYTES = 4 * 1024 * 1024
SAFETY_WORDS = re.compile(r"nsfw|safety|content polic|unsafe", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MODEL_ERRORS = re.compile(r"ckpt_name|unet_name|model_name|lora_name|vae_name|clip_name")


def _node_errors(data: object) -> list[tuple[str, dict[str, Any]]]:
    """(node class, error) for every error of a 400 answer's ``node_errors``."""
    found = []
    nodes = data.get("node_errors") if isinstance(data, dict) else None
    for node in (nodes or {}).values() if isinstance(nodes, dict) else ():
        if isinstance(node, dict):
            for error in node.get("errors") or ():
                if isinstance(error, dict):
                    found.append((str(node.get("class_type") or "?"), error))
    return found


class ComfyUIGenerator:
    """Images from a ComfyUI server running the entry's workflow."""

    #: Where the service answers when the entry names no base_url.
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    OPTIONS = HTTP_OPTIONS | frozenset({"workflow", "output_node", "poll_s", "auth"})

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.name = config.name
        self.base_url = config.base_url or DEFAULT_BASE_URL
        self.workflow = self._load_workflow(config) if "workflow" in config.options else None
        self.output_node = str_option(config, "output_node")
        self.poll_s = float_option(config, "poll_s", 0.5, 0.01, 60.0)
        auth = str_option(config, "auth", "bearer")
        assert auth is not None
        self.client = ApiClient(config, self.base_url, auth=auth, classify=self._classify)
        self.client_id = uuid.uuid4().hex

    def close(self) -> None:
        """Close the connections to the service; a later request opens new ones."""
        self.client.close()

    def __repr__(self) -> str:
        return f"ComfyUIGenerator(name={self.name!r}, base_url={self.base_url!r})"

    def _load_workflow(self, config: GeneratorConfig) -> dict[str, Any]:
        path = path_option(config, "workflow")
        where = f"generator {config.name!r}"
        assert path is not None
        try:
            if path.stat().st_size > MAX_WORKFLOW_BYTES:
                raise InputError(f"{where}: the workflow {path} is over {MAX_WORKFLOW_BYTES:,} bytes")
            workflow = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{where}: cannot read the workflow {path}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{where}: the workflow {path} is not JSON: {exc}") from None
        if not isinstance(workflow, dict) or not all(
            isinstance(n, dict) and "class_type" in n for n in workflow.values()
        ):
            raise InputError(
                f"{where}: {path} is not a workflow in API format: in ComfyUI use Export (API), which saves "
                'nodes as {"<id>": {"class_type": ..., "inputs": {...}}}'
            )
        used = set(self._placeholders(workflow))
        unknown = sorted(used - set(PLACEHOLDERS))
        if unknown:
            raise InputError(
                f"{where}: unknown placeholder(s) {', '.join('{{' + u + '}}' for u in unknown)} in {path}; "
                f"known: {', '.join('{{' + p + '}}' for p in PLACEHOLDERS)}"
            )
        missing = [p for p in REQUIRED if p not in used]
        if missing:
            raise InputError(
                f"{where}: the workflow {path} has no {' or '.join('{{' + m + '}}' for m in missing)}: put it "
                "where the prompt text and the sampler's seed go"
            )
        return workflow

    @staticmethod
    def _placeholders(workflow: dict[str, Any]) -> list[str]:
        found = []
        for node in workflow.values():
            for value in (node.get("inputs") or {}).values():
                if isinstance(value, str):
                    found.extend(_PLACEHOLDER.findall(value))
        return found

    def _filled(self, request: GenerationRequest, seed: int) -> dict[str, Any]:
        """The workflow with every placeholder replaced; a whole-value placeholder keeps the value's type."""
        assert self.workflow is not None
        values: dict[str, object] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or "",
            "seed": seed,
            "width": request.width if request.width is not None else request.height,
            "height": request.height if request.height is not None else request.width,
            "steps": request.steps,
            "guidance": request.guidance,
            "model": self.config.model,
            "batch_size": 1,
        }
        where = f"generator {self.name!r}"

        def value_of(key: str) -> object:
            value = values[key]
            if value is None:
                setting = "size" if key in ("width", "height") else key
                raise InputError(
                    f"{where}: the workflow uses {{{{{key}}}}}: set {setting} in the generators file"
                )
            return value

        filled: dict[str, Any] = {}
        for node_id, node in self.workflow.items():
            inputs = {}
            for name, value in (node.get("inputs") or {}).items():
                if isinstance(value, str) and _PLACEHOLDER.search(value):
                    whole = _PLACEHOLDER.fullmatch(value.strip())
                    if whole:
                        value = value_of(whole[1])
                    else:
                        value = _PLACEHOLDER.sub(lambda m: str(value_of(m[1])), value)
                inputs[name] = value
            filled[node_id] = {**node, "inputs": inputs}
        return filled

    def _classify(self, reply: Reply, text: str) -> GeneratorError | None:
        where = f"generator {self.name!r}"
        data = reply.json()
        for class_type, error in _node_errors(data):
            details = str(error.get("details") or error.get("message") or "")
            if error.get("type") == "value_not_in_list" and _MODEL_ERRORS.search(details):
                return UnknownModelError(
                    f"{where}: {self.base_url} does not have the model the workflow asks for ({class_type}: "
                    f"{self.client.redact(details)}): check model in the generators file"
                )
        errors = _node_errors(data)
        if reply.status == 400 and errors:
            class_type, error = errors[0]
            message = self.client.redact(f"{error.get('message', '')}: {error.get('details', '')}")
            return GeneratorError(f"{where}: the server refused the workflow ({class_type}: {message})")
        return None

    def check(self) -> str:
        stats = self.client.json("GET", "/system_stats")
        system = stats.get("system") if isinstance(stats, dict) else None
        version = system.get("comfyui_version") if isinstance(system, dict) else None
        line = f"ComfyUI {version} answers" if version else f"{self.base_url} answers"
        if self.workflow is None:
            raise InputError(
                f'generator {self.name!r}: set workflow = "FILE.json" (a workflow in API format)'
            )
        for node in self.workflow.values():
            for name, value in (node.get("inputs") or {}).items():
                whole = _PLACEHOLDER.fullmatch(value.strip()) if isinstance(value, str) else None
                if whole and whole[1] == "model":
                    return line + "; " + self._check_model(str(node["class_type"]), name)
        return line

    def _check_model(self, class_type: str, input_name: str) -> str:
        info = self.client.json("GET", f"/object_info/{class_type}")
        spec = (info.get(class_type) or {}).get("input", {}) if isinstance(info, dict) else {}
        allowed = None
        for group in ("required", "optional"):
            entry = (spec.get(group) or {}).get(input_name)
            if isinstance(entry, list) and entry and isinstance(entry[0], list):
                allowed = entry[0]
        if allowed is None:
            return f"{class_type}.{input_name} lists no choices"
        if self.config.model not in allowed:
            raise UnknownModelError(
                f"generator {self.name!r}: {self.base_url} has no {input_name} {self.config.model!r} for "
                f"{class_type}: check model in the generators file"
            )
        return f"model {self.config.model!r} found"

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        if self.workflow is None:
            raise InputError(
                f'generator {self.name!r}: set workflow = "FILE.json" (a workflow in API format)'
            )
        req = self.config.complete(request)
        images = []
        for k in range(req.n):
            seed = req.seed + k
            prompt_id = self._queue(self._filled(req, seed))
            outputs = self._await(prompt_id)
            data, file = self._first_image(outputs)
            params: dict[str, object] = {"backend": "comfyui", "file": file}
            for key in ("width", "height", "steps", "guidance"):
                if getattr(req, key) is not None:
                    params[key] = getattr(req, key)
            if self.config.model:
                params["model"] = self.config.model
            images.append(GeneratedImage(data=data, seed=seed, params=params))
        return images

    def _queue(self, workflow: dict[str, Any]) -> str:
        answer = self.client.json(
            "POST", "/prompt", json_body={"prompt": workflow, "client_id": self.client_id}
        )
        prompt_id = answer.get("prompt_id") if isinstance(answer, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            raise GeneratorError(
                f"generator {self.name!r}: {self.base_url}/prompt answered without a prompt_id"
            )
        return prompt_id

    def _await(self, prompt_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.config.timeout_s
        where = f"generator {self.name!r}"
        while True:
            history = self.client.json("GET", f"/history/{prompt_id}")
            run = history.get(prompt_id) if isinstance(history, dict) else None
            if isinstance(run, dict):
                status = run.get("status") or {}
                if status.get("status_str") == "error":
                    raise self._run_error(status)
                if status.get("completed", True):
                    outputs = run.get("outputs")
                    return outputs if isinstance(outputs, dict) else {}
            if time.monotonic() >= deadline:
                raise GeneratorUnavailable(
                    f"{where}: the workflow did not finish within {self.config.timeout_s:g} s: raise timeout_s "
                    "in the generators file, or look at the ComfyUI queue"
                )
            self.client.sleep(self.poll_s)

    def _run_error(self, status: dict[str, Any]) -> GeneratorError:
        where = f"generator {self.name!r}"
        for message in status.get("messages") or ():
            if isinstance(message, list) and len(message) == 2 and message[0] == "execution_error":
                detail = message[1] if isinstance(message[1], dict) else {}
                text = self.client.redact(
                    f"{detail.get('node_type', '?')}: {detail.get('exception_message', '')}"
                )
                if SAFETY_WORDS.search(text):
                    return GenerationRefused(f"{where}: the workflow refused the prompt ({text})")
                return GeneratorError(f"{where}: the workflow failed ({text})")
        return GeneratorError(f"{where}: the workflow failed without saying why")

    def _first_image(self, outputs: dict[str, Any]) -> tuple[bytes, str]:
        where = f"generator {self.name!r}"
        nodes = [self.output_node] if self.output_node else sorted(outputs, key=lambda n: (len(n), n))
        candidates = []
        for node_id in nodes:
            for image in (outputs.get(node_id) or {}).get("images") or ():
                if isinstance(image, dict) and isinstance(image.get("filename"), str):
                    candidates.append(image)
        saved = [i for i in candidates if i.get("type") == "output"] or candidates
        if not saved:
            node = f" from node {self.output_node!r}" if self.output_node else ""
            raise GeneratorError(f"{where}: the workflow finished without an output image{node}")
        image = saved[0]
        params = {
            "filename": image["filename"],
            "subfolder": str(image.get("subfolder") or ""),
            "type": str(image.get("type") or "output"),
        }
        reply = self.client.request("GET", "/view", params=params)
        return reply.body, "/".join(p for p in (params["subfolder"], params["filename"]) if p)
