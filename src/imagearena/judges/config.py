"""Judges as named entries of a TOML file (``[judges.<name>]``), and resolving a judge by name.

```toml
[judges.gpt-judge]
backend = "openai-vlm"
model = "gpt-4o-mini"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
```

An entry has the keys ``backend, model, base_url, api_key_env, timeout_s, max_concurrency`` and the
extra keys its backend declares in ``OPTIONS``; any other key is an error, and keys never go in the
file. A name that no file entry has is taken as a scorer spec (``clip``, ``imagereward,clip``): the
``scorer`` judge with that spec.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from imagearena.errors import InputError, UnknownNameError
from imagearena.generators.config import DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT_S, GeneratorConfig
from imagearena.judges import Judge, judges
from imagearena.text import check_text

KEYS = ("backend", "model", "base_url", "api_key_env", "timeout_s", "max_concurrency")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MAX_NAME = 100


def load_judges(path: Path) -> dict[str, GeneratorConfig]:
    """Every entry of a judges file, checked, by name."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no judges file at {path}: write one (see docs/judges.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the judges file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    return parse_judges(data, str(path))


def parse_judges(data: Mapping[str, object], source: str = "judges.toml") -> dict[str, GeneratorConfig]:
    entries = data.get("judges", {})
    extra = sorted(set(data) - {"judges", "generators"})
    if extra or not isinstance(entries, dict):
        raise InputError(f"{source}: write each judge as a [judges.<name>] table")
    return {name: parse_entry(name, table, source) for name, table in entries.items()}


def parse_entry(name: str, table: object, source: str = "judges.toml") -> GeneratorConfig:
    """Check one entry; messages name the entry and the key, never a value that may be a secret."""
    where = f"{source}: judge {name!r}"
    check_text(name, f"the judge name {name!r}")
    if not name.strip() or name != name.strip() or len(name) > _MAX_NAME:
        raise InputError(f"{where}: a judge name is 1 to {_MAX_NAME} characters without outer spaces")
    if not isinstance(table, dict):
        raise InputError(f'{where}: expected a table [judges.{name}] with backend = "..."')
    backend = table.get("backend")
    if not isinstance(backend, str) or backend not in judges:
        raise InputError(f"{where}: set backend = one of {', '.join(judges.names())}")
    if "api_key" in table or "key" in table:
        raise InputError(
            f"{where}: keys never go in the judges file: put the key in an environment variable and name "
            'that variable with api_key_env = "..."'
        )
    allowed = frozenset(getattr(judges.factory(backend), "OPTIONS", frozenset()))
    unknown = sorted(set(table) - set(KEYS) - allowed)
    if unknown:
        known = ", ".join([*KEYS, *sorted(allowed)])
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; {backend} reads: {known}")
    strings = {}
    for key in ("model", "base_url", "api_key_env"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise InputError(f"{where}: {key} must be a non-empty string")
        strings[key] = value
    if strings["api_key_env"] is not None and not _ENV_NAME.fullmatch(strings["api_key_env"]):
        raise InputError(
            f"{where}: api_key_env must be the NAME of an environment variable (like OPENAI_API_KEY), "
            "not the key itself"
        )
    if strings["base_url"] is not None and not re.match(r"https?://[^/\s]+", strings["base_url"]):
        raise InputError(f"{where}: base_url must start with http:// or https://")
    timeout_s = table.get("timeout_s", DEFAULT_TIMEOUT_S)
    concurrency = table.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s <= 86400:
        raise InputError(f"{where}: timeout_s must be a number of seconds above 0")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 1024:
        raise InputError(f"{where}: max_concurrency must be a whole number from 1 to 1024")
    return GeneratorConfig(
        name=name,
        backend=backend,
        model=strings["model"],
        base_url=strings["base_url"].rstrip("/") if strings["base_url"] else None,
        api_key_env=strings["api_key_env"],
        timeout_s=float(timeout_s),
        max_concurrency=concurrency,
        options={k: v for k, v in table.items() if k in allowed and k not in KEYS},
    )


def create_judge(config: GeneratorConfig) -> Judge:
    judge: Judge = judges.factory(config.backend)(config)
    return judge


def resolve_judge(name: str, path: Path | None = None) -> Judge:
    """The judge ``name``: an entry of the judges file at ``path`` when it has one, else the scorer judge
    over the scorer spec ``name`` (an UnknownNameError naming both when that is no scorer either)."""
    from imagearena.scorers import scorers
    from imagearena.scorers.ensemble import parse_spec

    if path is not None:
        entries = load_judges(path)
        if name in entries:
            return create_judge(entries[name])
    unknown = [member for member, _ in parse_spec(name) if member not in scorers]
    if unknown:
        where = f" in {path}" if path is not None else ""
        raise UnknownNameError(
            f"no judge {name!r}{where}, and {', '.join(unknown)} is no scorer: name a [judges.<name>] "
            f"entry (--judges FILE) or scorers ({', '.join(scorers.names())})"
        )
    return create_judge(GeneratorConfig(name=name, backend="scorer", model=name))
