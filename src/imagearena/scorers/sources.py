"""Where a scorer's weights and tokenizer come from: a local file or folder, the local Hugging Face
cache, or the hub, in that order. :func:`resolve_source` is the one parser of a source name, for every
scorer; what each built-in scorer loads by default is data, in imagearena.scorers.pretrained.

Local files are always tried first, with no request at all. The hub is asked only when the files are
not there and ``HF_HUB_OFFLINE`` is unset, and then after one quick probe: huggingface_hub retries a
failed request with backoff for every file it needs (a tokenizer is several), so an unreachable hub
used to cost minutes before any error; now it costs one request and a message saying what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    from huggingface_hub.utils import HfHubHTTPError  # type: ignore[attr-defined]

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


HUB_PREFIX = "hf-hub:"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


@dataclass(frozen=True, slots=True)
class Source:
    """Where one part of a scorer (weights, tokenizer, a config file) comes from: a local file, a local
    folder, or a hub repo (read from the local cache first)."""

    path: Path | None = None
    repo: str | None = None

    @property
    def is_local_file(self) -> bool:
        return self.path is not None and self.path.is_file()

    def file(self, filename: str) -> Path:
        """``filename`` of this source; a local file is its own single file, whatever it is called."""
        if self.path is None:
            return hub_file(str(self.repo), filename)
        if self.path.is_file():
            return self.path
        candidate = self.path / filename
        if not candidate.is_file():
            raise InputError(
                f"{self.path} has no {filename}: point to the file itself or to a folder holding it"
            )
        return candidate

    def load(self, cls: Any, **kwargs: Any) -> Any:
        """``cls.from_pretrained`` on this source: a local folder as is; a hub repo from the local cache
        first, and from the hub only after a probe shows it answers."""
        if self.path is not None:
            if not self.path.is_dir():
                raise InputError(f"{self.path} is a file: {cls.__name__} loads from a folder or a hub id")
            return _load(cls, str(self.path), kwargs)
        repo = str(self.repo)
        try:
            return cls.from_pretrained(repo, local_files_only=True, **kwargs)
        except (OSError, ValueError):  # not (completely) in the cache
            pass
        if hub_offline():
            raise InputError(offline_hint(repo))
        probe_hub(repo, "config.json")
        return _load(cls, repo, kwargs)


def resolve_source(source: str | os.PathLike[str]) -> Source:
    """The one parser of a source name: an existing local file or folder, ``hf-hub:org/name``, or a hub
    id (``org/name``, or a bare name such as ``bert-base-uncased``). Anything else is an error that says
    what was expected."""
    text = str(source)
    if text.startswith(HUB_PREFIX):
        return _hub_source(text.removeprefix(HUB_PREFIX), text)
    path = Path(text).expanduser()
    if path.exists():
        return Source(path=path)
    if looks_local(text):
        raise InputError(f"{text} is neither a file, a folder nor a hub repo id (org/name): check the path")
    return _hub_source(text, text)


def _hub_source(repo: str, given: str) -> Source:
    if not _HUB_ID.fullmatch(repo):
        raise InputError(
            f"{given!r} is not a hub repo id: write org/name (or hf-hub:org/name), or a local path"
        )
    return Source(repo=repo)


def load_tokenizer(
    source: str | os.PathLike[str],
    kind: str = "AutoTokenizer",
    special_tokens: Sequence[tuple[str, Any]] = (),
) -> Any:
    """A transformers tokenizer (class ``kind``) from a source, with ``special_tokens`` added in order
    (each an ``add_special_tokens`` call, so their ids come out as the checkpoint expects)."""
    import transformers

    try:
        tokenizer = resolve_source(source).load(getattr(transformers, kind))
    except InputError as exc:
        raise InputError(f"cannot load the tokenizer {source}: {exc}") from None
    for key, value in special_tokens:
        tokenizer.add_special_tokens({key: value})
    return tokenizer


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
