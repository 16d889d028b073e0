"""Generators as named entries of a TOML file, and building a backend from one.

```toml
[generators.dalle-3]
backend = "openai"
model = "dall-e-3"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
size = "1024x1024"
```

Every backend understands the common keys (COMMON_KEYS); a backend declares the extra keys it reads in
its ``OPTIONS`` class attribute, and any other key is an error naming the entry, as is an unknown
backend. Secrets are never in the file: ``api_key_env`` names the environment variable that holds the key.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from imagearena.errors import InputError, UnknownNameError
from imagearena.generators import generators
from imagearena.generators.errors import GeneratorAuthError
from imagearena.text import check_text
from imagearena.types import GenerationRequest, Generator

#: Keys every backend understands, in the order the docs list them.
COMMON_KEYS = (
    "backend",
    "model",
    "base_url",
    "api_key_env",
    "size",
    "steps",
    "guidance",
    "timeout_s",
    "max_concurrency",
)
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_MAX_CONCURRENCY = 4
MAX_SIDE = 16384
MAX_IMAGES_PER_REQUEST = 64
_SIZE = re.compile(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """One ``[generators.<name>]`` entry, checked. ``options`` holds the backend's own keys (its OPTIONS)."""

    name: str
    backend: str
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    options: dict[str, object] = field(default_factory=dict, hash=False)
    #: The folder of the generators file: relative paths in options are read from there.
    root: Path | None = None

    def api_key(self) -> str | None:
        """The key from the variable ``api_key_env`` names, read when needed (never stored or shown);
        None when the entry names no variable. A named variable that is unset or empty is an error."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise GeneratorAuthError(
                f"generator {self.name!r} reads its API key from ${self.api_key_env}, which is not set: "
                f"export {self.api_key_env}=... before starting imagearena"
            )
        return key

    def complete(self, request: GenerationRequest) -> GenerationRequest:
        """``request``, checked, with every parameter it leaves None taken from this entry."""
        check_request(request)
        return replace(
            request,
            width=request.width if request.width is not None else self.width,
            height=request.height if request.height is not None else self.height,
            steps=request.steps if request.steps is not None else self.steps,
            guidance=request.guidance if request.guidance is not None else self.guidance,
        )


def check_request(request: GenerationRequest) -> None:
    """Refuse a request no backend should send: an empty or unstorable prompt, n out of range, sizes
    or steps that are not positive."""
    if not isinstance(request.prompt, str) or not request.prompt.strip():
        raise InputError("a generation request needs a non-empty prompt")
    check_text(request.prompt, "the prompt")
    if request.negative_prompt is not None:
        check_text(request.negative_prompt, "the negative prompt")
    if not 1 <= request.n <= MAX_IMAGES_PER_REQUEST:
        raise InputError(f"ask for 1 to {MAX_IMAGES_PER_REQUEST} images at a time, not {request.n}")
    for key in ("width", "height"):
        value = getattr(request, key)
        if value is not None and not 1 <= value <= MAX_SIDE:
            raise InputError(f"{key} must be 1 to {MAX_SIDE} pixels, not {value}")
    if request.steps is not None and request.steps < 1:
        raise InputError(f"steps must be at least 1, not {request.steps}")


def request_batches(
    request: GenerationRequest, per_call: int, *, seeded: bool
) -> list[tuple[int, int | None]]:
    """How a request's ``n`` images are asked of a backend, as (images, seed) per call: one call a seed
    (``seed + k``) when the backend takes a seed, else calls of up to ``per_call`` images and no seed."""
    if seeded:
        return [(1, request.seed + k) for k in range(request.n)]
    return [(min(per_call, request.n - start), None) for start in range(0, request.n, per_call)]


def backend_options(backend: str) -> frozenset[str]:
    """The extra keys a backend reads (its factory's ``OPTIONS``); imports the backend's module only."""
    return frozenset(getattr(generators.factory(backend), "OPTIONS", frozenset()))


def create(config: GeneratorConfig) -> Generator:
    """Build the generator an entry describes: its backend's factory called with the entry."""
    factory = generators.factory(config.backend)
    generator: Generator = factory(config)
    return generator


def load_generators(path: Path) -> dict[str, GeneratorConfig]:
    """Read and check every entry of a generators file, by name, in file order."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"no generators file at {path}: write one (see docs/generators.md) or pass --generators FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the generators file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    return parse_generators(data, str(path), root=path.resolve().parent)


def parse_generators(
    data: Mapping[str, object], source: str = "generators.toml", root: Path | None = None
) -> dict[str, GeneratorConfig]:
    """Check the ``generators`` table of a parsed TOML document; ``source`` names it in errors, and
    relative paths in options are read from ``root``."""
    extra = sorted(set(data) - {"generators"})
    if extra:
        raise InputError(
            f"{source}: unknown top-level key(s) {', '.join(map(repr, extra))}: "
            "write each generator as a [generators.<name>] table"
        )
    entries = data.get("generators", {})
    if not isinstance(entries, dict):
        raise InputError(f"{source}: 'generators' must be a table of [generators.<name>] entries")
    configs: dict[str, GeneratorConfig] = {}
    for name, table in entries.items():
        configs[name] = parse_entry(name, table, source, root)
    return configs


def parse_entry(
    name: str, table: object, source: str = "generators.toml", root: Path | None = None
) -> GeneratorConfig:
    """Check one entry. Error messages name the entry and the key, never a value that may be a secret."""
    where = f"{source}: generator {name!r}"
    check_text(name, f"the generator name {name!r}")
    if not name.strip() or name != name.strip() or len(name) > _MAX_NAME:
        raise InputError(f"{where}: a generator name is 1 to {_MAX_NAME} characters without outer spaces")
    if not isinstance(table, dict):
        raise InputError(f'{where}: expected a table [generators.{name}] with backend = "..."')
    backend = table.get("backend")
    if not isinstance(backend, str) or not backend:
        raise InputError(f"{where}: set backend = one of {', '.join(generators.names())}")
    try:
        allowed = backend_options(backend)
    except UnknownNameError:
        raise InputError(
            f"{where}: unknown backend {backend!r}; available: {', '.join(generators.names())}"
        ) from None
    if "api_key" in table or "key" in table:
        raise InputError(
            f"{where}: keys never go in the generators file: put the key in an environment variable "
            'and name that variable with api_key_env = "..."'
        )
    unknown = sorted(set(table) - set(COMMON_KEYS) - allowed)
    if unknown:
        known = ", ".join([*COMMON_KEYS, *sorted(allowed)])
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; {backend} reads: {known}")

    width = height = None
    if "size" in table:
        size = table["size"]
        match = _SIZE.fullmatch(size) if isinstance(size, str) else None
        if match is None:
            raise InputError(f'{where}: size must be "WIDTHxHEIGHT", for example size = "1024x1024"')
        width, height = int(match[1]), int(match[2])
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise InputError(f"{where}: size sides must be 1 to {MAX_SIDE} pixels")
    api_key_env = _string(table, "api_key_env", where)
    if api_key_env is not None and not _ENV_NAME.fullmatch(api_key_env):
        # The value is not echoed: a key pasted here by mistake must not reach a terminal or a log.
        raise InputError(
            f"{where}: api_key_env must be the NAME of an environment variable (like OPENAI_API_KEY), "
            "not the key itself"
        )
    base_url = _string(table, "base_url", where)
    if base_url is not None:
        if not re.match(r"https?://[^/\s]+", base_url):
            raise InputError(f"{where}: base_url must start with http:// or https://")
        base_url = base_url.rstrip("/")
    timeout_s = _number(table, "timeout_s", where, 0.001, 86400.0)
    max_concurrency = _integer(table, "max_concurrency", where, 1, 1024)
    guidance = _number(table, "guidance", where, 0.0, 1000.0)
    return GeneratorConfig(
        name=name,
        backend=backend,
        model=_string(table, "model", where),
        base_url=base_url,
        api_key_env=api_key_env,
        width=width,
        height=height,
        steps=_integer(table, "steps", where, 1, 10000),
        guidance=guidance,
        timeout_s=DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s,
        max_concurrency=DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency,
        options={key: value for key, value in table.items() if key in allowed and key not in COMMON_KEYS},
        root=root,
    )


def _string(table: Mapping[str, object], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {key} must be a non-empty string")
    check_text(value, f"{where}: {key}")
    return value.strip()


def _integer(table: Mapping[str, object], key: str, where: str, low: int, high: int) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{where}: {key} must be a whole number from {low} to {high}")
    return value


def _number(table: Mapping[str, object], key: str, where: str, low: float, high: float) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}: {key} must be a number from {low:g} to {high:g}")
    if not low <= value <= high:
        raise InputError(f"{where}: {key} must be a number from {low:g} to {high:g}")
    return float(value)


def str_option(
    config: GeneratorConfig, key: str, default: str | None = None, choices: Sequence[str] = ()
) -> str | None:
    """A backend's string option (one of ``choices`` when given), or ``default`` when it is left out."""
    value = config.options.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value or (choices and value not in choices):
        allowed = f"one of {', '.join(choices)}" if choices else "a non-empty string"
        raise InputError(f"generator {config.name!r}: {key} must be {allowed}")
    return value


def int_option(config: GeneratorConfig, key: str, default: int, low: int, high: int) -> int:
    """A backend's whole-number option within [low, high], or ``default``."""
    value = config.options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"generator {config.name!r}: {key} must be a whole number from {low} to {high}")
    return value


def float_option(config: GeneratorConfig, key: str, default: float, low: float, high: float) -> float:
    """A backend's number option within [low, high], or ``default``."""
    value = config.options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InputError(f"generator {config.name!r}: {key} must be a number from {low:g} to {high:g}")
    return float(value)


def bool_option(config: GeneratorConfig, key: str, default: bool) -> bool:
    """A backend's true/false option, or ``default``."""
    value = config.options.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InputError(f"generator {config.name!r}: {key} must be true or false")
    return value


def table_option(config: GeneratorConfig, key: str) -> dict[str, object]:
    """A backend's table option (``{}`` when left out)."""
    value = config.options.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"generator {config.name!r}: {key} must be a table, like {key} = {{ name = 1 }}")
    return dict(value)


def path_option(config: GeneratorConfig, key: str) -> Path | None:
    """A backend's path option; a relative path is read from the generators file's folder."""
    value = str_option(config, key)
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() or config.root is None else config.root / path
