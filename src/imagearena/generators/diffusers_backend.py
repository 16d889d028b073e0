"""The ``diffusers`` generator: any text-to-image pipeline diffusers can load (SD 1.5, SDXL, SD3, Flux),
from a local folder or a hub id, through ``AutoPipelineForText2Image``.

Image k of a request is drawn from its own ``torch.Generator`` seeded ``seed + k`` on the CPU, so the
same (prompt, seed, parameters) gives the same image whatever the batch size and whichever image of a
batch it is; images are generated ``batch_size`` at a time. A pipeline is loaded once per process and
shared by every generator entry that names the same (model, device, dtype, variant); one lock per
pipeline serialises calls, since a pipeline's scheduler keeps state during a call.

The module is named ``diffusers_backend`` so that ``import diffusers`` inside it finds the library.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagearena.devices import cuda_has_bf16, dtype_name, pick_device, unknown_dtype
from imagearena.errors import InputError, MissingDependencyError
from imagearena.generators.config import MAX_IMAGES_PER_REQUEST, int_option, str_option
from imagearena.generators.errors import UnknownModelError
from imagearena.types import GeneratedImage, GenerationRequest

if TYPE_CHECKING:
    from imagearena.generators.config import GeneratorConfig

DEFAULT_BATCH_SIZE = 4


def require_packages() -> Any:
    """Import torch and diffusers, or say which extra installs them; returns torch."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("the diffusers generator", "score", "torch") from None
    for package in ("diffusers", "transformers"):
        try:
            import_module(package)
        except ImportError as exc:
            missing = (exc.name or package).partition(".")[0]
            raise MissingDependencyError("the diffusers generator", "gen", missing) from None
    return torch


@dataclass
class _Loaded:
    pipeline: Any
    lock: threading.Lock
    call_defaults: Mapping[str, Any]  # the pipeline __call__'s own defaults, to record what was used


Key = tuple[str, str, str, str | None]  # model, device, dtype, variant
_PIPELINES: dict[Key, _Loaded] = {}
_LOADING: dict[Key, threading.Lock] = {}  # one lock per key: loading one model never blocks another
_PIPELINES_LOCK = threading.Lock()


def _load(model: str, device: str, dtype: str, variant: str | None) -> _Loaded:
    """The process's one pipeline for this key, loaded on first use."""
    key = (model, device, dtype, variant)
    with _PIPELINES_LOCK:
        loaded = _PIPELINES.get(key)
        if loaded is not None:
            return loaded
        loading = _LOADING.setdefault(key, threading.Lock())
    with loading:
        with _PIPELINES_LOCK:
            loaded = _PIPELINES.get(key)
        if loaded is None:
            loaded = _from_pretrained(model, device, dtype, variant)
            with _PIPELINES_LOCK:
                _PIPELINES[key] = loaded
        return loaded


def _from_pretrained(model: str, device: str, dtype: str, variant: str | None) -> _Loaded:
    torch = require_packages()
    from diffusers import AutoPipelineForText2Image
    from diffusers.utils import deprecation_utils

    # diffusers 0.36 renamed from_pretrained's torch_dtype to dtype; older releases know only the first
    dtype_key = "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"
    kwargs: dict[str, Any] = {dtype_key: getattr(torch, dtype)}
    if variant:
        kwargs["variant"] = variant
    try:
        pipeline = AutoPipelineForText2Image.from_pretrained(model, **kwargs)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:  # no such folder or hub id, no model_index.json, no variant
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnknownModelError(
            f"diffusers cannot load a text-to-image pipeline from {model!r} ({reason}): name a folder "
            "written by save_pretrained or a hub id that is in the local cache or reachable"
        ) from None
    pipeline = pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    parameters = inspect.signature(pipeline.__call__).parameters
    defaults = {k: p.default for k, p in parameters.items() if p.default is not inspect.Parameter.empty}
    return _Loaded(pipeline, threading.Lock(), defaults)


def model_index(model: str) -> Path | None:
    """The model_index.json of a pipeline folder, or of a hub id in the local cache (None when the id is
    not cached and may be downloaded); UnknownModelError for a folder that holds none, or an uncached id
    while the hub is offline."""
    path = Path(model)
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise UnknownModelError(
                f"{model} holds no model_index.json: name a folder written by a diffusers pipeline's "
                "save_pretrained"
            )
        return path / "model_index.json"
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") != 1:
        raise UnknownModelError(f"{model!r} is neither a pipeline folder nor a hub id (owner/name)")
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        raise MissingDependencyError("the diffusers generator", "gen", "huggingface_hub") from None
    cached = try_to_load_from_cache(model, "model_index.json")
    if isinstance(cached, str):
        return Path(cached)
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise UnknownModelError(
            f"{model} is not in the local hub cache and HF_HUB_OFFLINE is set: download it first, or unset "
            "HF_HUB_OFFLINE"
        )
    return None


def encode_png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class DiffusersGenerator:
    """A diffusers text-to-image pipeline as a generator.

    ``model`` is a folder written by ``save_pretrained`` or a hub id. Options (the ``[generators.<name>]``
    table): ``device`` (auto, cpu, cuda, cuda:1, mps), ``dtype`` (auto, fp32, fp16, bf16), ``batch_size``
    (images per pipeline call) and ``variant`` (the weight files' variant, such as "fp16").
    """

    OPTIONS = frozenset({"device", "dtype", "batch_size", "variant"})

    def __init__(self, config: GeneratorConfig) -> None:
        if not config.model:
            raise InputError(
                f"generator {config.name!r}: the diffusers backend needs model = a pipeline folder or hub id"
            )
        self.config = config
        self.name = config.name
        self.device_option = str_option(config, "device")
        self.dtype_option = str_option(config, "dtype")
        self.variant = str_option(config, "variant")
        self.batch_size = int_option(config, "batch_size", DEFAULT_BATCH_SIZE, 1, MAX_IMAGES_PER_REQUEST)
        model = str(config.model)
        path = Path(model).expanduser()
        if not path.is_absolute() and config.root is not None and (config.root / path).exists():
            path = config.root / path  # a relative folder is read from the generators file's folder
        # a local folder is named by its resolved path, so two spellings share one pipeline
        self.model = str(path.resolve()) if path.exists() else model

    def _placement(self) -> tuple[str, str]:
        """The device and the dtype name the pipeline runs on (the options, or what ``auto`` picks here)."""
        torch = require_packages()
        device = pick_device(torch, self.device_option, option="device")
        try:
            return device, dtype_name(device, self.dtype_option, cuda_bf16=cuda_has_bf16(torch, device))
        except KeyError:
            raise unknown_dtype(self.dtype_option) from None

    def _pipeline(self) -> tuple[_Loaded, str, str]:
        device, dtype = self._placement()
        return _load(self.model, device, dtype, self.variant), device, dtype

    def check(self) -> str:
        """Reads the pipeline's model_index.json (from the folder, or the hub cache) without loading any
        weights, and says which pipeline would run where."""
        device, dtype = self._placement()
        index = model_index(self.model)
        if index is None:
            return f"{self.model} is not in the local hub cache: the first generation downloads it ({device}, {dtype})"
        try:
            pipeline = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
        except (OSError, ValueError, AttributeError):
            pipeline = None
        if not isinstance(pipeline, str):
            raise UnknownModelError(
                f"generator {self.name!r}: {index} is not a diffusers model_index.json: name a pipeline folder"
            )
        return f"{pipeline} from {self.model} on {device} ({dtype})"

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        request = self.config.complete(request)
        loaded, device, dtype = self._pipeline()
        import torch

        kwargs: dict[str, Any] = {"output_type": "pil"}
        for key, value in (
            ("width", request.width),
            ("height", request.height),
            ("num_inference_steps", request.steps),
            ("guidance_scale", request.guidance),
        ):
            if value is not None:
                kwargs[key] = value
        if request.negative_prompt and "negative_prompt" not in loaded.call_defaults:
            raise InputError(
                f"generator {self.name!r}: {type(loaded.pipeline).__name__} takes no negative prompt; "
                "leave it out for this generator"
            )
        params: dict[str, object] = {
            "backend": "diffusers",
            "model": self.model,
            "pipeline": type(loaded.pipeline).__name__,
            "scheduler": type(loaded.pipeline.scheduler).__name__,
            "steps": kwargs.get("num_inference_steps", loaded.call_defaults.get("num_inference_steps")),
            "guidance": kwargs.get("guidance_scale", loaded.call_defaults.get("guidance_scale")),
            "dtype": dtype,
            "device": device,
        }
        if request.negative_prompt:
            params["negative_prompt"] = request.negative_prompt
        out: list[GeneratedImage] = []
        for start in range(0, request.n, self.batch_size):
            seeds = [request.seed + k for k in range(start, min(request.n, start + self.batch_size))]
            generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
            call = dict(kwargs, prompt=[request.prompt] * len(seeds), generator=generators)
            if request.negative_prompt:
                call["negative_prompt"] = [request.negative_prompt] * len(seeds)
            with loaded.lock, torch.inference_mode():
                try:
                    images = loaded.pipeline(**call).images
                except ValueError as exc:  # sizes not divisible by the VAE's factor, prompts too long, ...
                    raise InputError(f"generator {self.name!r}: {_one_line(exc)}") from None
            for seed, image in zip(seeds, images, strict=True):
                size = {"width": image.width, "height": image.height}
                out.append(GeneratedImage(data=encode_png(image), seed=seed, params={**params, **size}))
        return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
