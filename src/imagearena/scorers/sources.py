"""Where a scorer's weights and tokenizer come from: a local file or folder, the local Hugging Face
cache, or the hub, in that order.

Local files are always tried first, with no request at all. The hub is asked only when the files are
not there and ``HF_HUB_OFFLINE`` is unset, and then after one quick probe: huggingface_hub retries a
failed request with backoff for every file it needs (a tokenizer is several), so an unreachable hub
used to cost minutes before any error; now it costs one request and a message saying what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from imagearena.errors import InputError, MissingDependencyError

PROBE_TIMEOUT_S = 10.0
# Answers huggingface_hub retries with backoff: the hub is there but not answering usefully.
_RETRIED_STATUSES = {408, 429, 500, 502, 503, 504}


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise MissingDependencyError("downloading weights", "score", "huggingface_hub") from None
    return huggingface_hub


def offline_hint(repo: str, filename: str | None = None) -> str:
    """What to do when ``repo`` (or one file of it) is not in the local cache and cannot be fetched."""
    what = f"{filename} of {repo}" if filename else repo
    download = f"hf download {repo}" + (f" {filename}" if filename else "")
    if hub_offline():
        return (
            f"{what} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set: "
            f"download it once where the hub can be reached ({download}), or pass a local path"
        )
    return (
        f"{what} is not in the local Hugging Face cache and the hub cannot be reached: download it once "
        f"where it can ({download}), then set HF_HUB_OFFLINE=1; or pass a local path"
    )


def probe_hub(repo: str, filename: str, *, about: str | None = None) -> None:
    """One metadata request for ``repo/filename`` with a short timeout and no retry; raise the offline
    hint (about the file ``about``, or the whole repo) unless the hub answers. A 404 or 401 is an
    answer: the loader then says what is missing."""
    hub = _hub()
    from huggingface_hub.utils import HfHubHTTPError

    try:
        hub.get_hf_file_metadata(hub.hf_hub_url(repo, filename), timeout=PROBE_TIMEOUT_S)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status is None or status in _RETRIED_STATUSES:
            raise InputError(f"{offline_hint(repo, about)} (the hub answered {status})") from None
    except Exception as exc:  # connection refused, timeout, DNS, proxy: the hub cannot be reached
        raise InputError(f"{offline_hint(repo, about)} ({type(exc).__name__}: {exc})") from None


def hub_file(repo: str, filename: str) -> Path:
    """``filename`` of the hub repo ``repo``: from the local cache without a request, else downloaded
    (unless HF_HUB_OFFLINE is set) once a probe showed the hub answers."""
    hub = _hub()
    cached = hub.try_to_load_from_cache(repo, filename)
    if isinstance(cached, str):
        return Path(cached)
    if hub_offline():
        raise InputError(offline_hint(repo, filename))
    probe_hub(repo, filename, about=filename)
    try:
        return Path(hub.hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # the hub client raises many types; all mean "not available"
        raise InputError(
            f"could not download {filename} of {repo} ({type(exc).__name__}): check the hub id, "
            "or pass a local path"
        ) from None


def resolve_file(source: str | os.PathLike[str], filename: str) -> Path:
    """A weights file from a local file, a local directory holding ``filename``, or a hub repo id."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        candidate = path / filename
        if not candidate.is_file():
            raise InputError(f"{path} has no {filename}: point to the file itself or to a folder holding it")
        return candidate
    if looks_local(str(source)):
        raise InputError(f"weights not found at {source}: check the path")
    return hub_file(str(source), filename)


def resolve_dir(source: str | os.PathLike[str]) -> str:
    """A ``from_pretrained`` source: a local directory as is, or a hub id."""
    path = Path(source).expanduser()
    if path.is_dir():
        return str(path)
    if looks_local(str(source)):
        raise InputError(f"no model folder at {source}: check the path")
    return str(source)


def from_pretrained(cls: Any, source: str | os.PathLike[str], **kwargs: Any) -> Any:
    """``cls.from_pretrained`` from a local folder or the hub cache first; the hub only after a probe."""
    src = resolve_dir(source)
    if Path(src).is_dir():
        return _load(cls, src, kwargs)
    try:
        return cls.from_pretrained(src, local_files_only=True, **kwargs)
    except (OSError, ValueError):  # not (completely) in the cache
        pass
    if hub_offline():
        raise InputError(offline_hint(src))
    probe_hub(src, "config.json")
    return _load(cls, src, kwargs)


def _load(cls: Any, src: str, kwargs: dict[str, Any]) -> Any:
    try:
        return cls.from_pretrained(src, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"could not load {src} ({type(exc).__name__}): check the hub id or the folder, or pass a local path"
        ) from None


def looks_local(source: str) -> bool:
    """Paths that cannot be hub ids: absolute, relative with ./ or ../, more than one slash, a file suffix."""
    if source.startswith(("/", "./", "../", "~", ".\\")):
        return True
    return source.count("/") > 1 or Path(source).suffix in {".pt", ".pth", ".bin", ".safetensors", ".json"}
