"""Embeddings and search indexes of prompt sets, computed once and kept under the data dir.

An entry is a folder ``DATA_DIR/prompt-embeddings/KEY`` where KEY hashes the set's fingerprint (its
prompt texts) and the embedder's id (its weights): editing the prompts or changing the model gives a
new key, so a stale entry is never read. When a new entry is written, older entries for the same
source file and model name are deleted. The user's own folders are never written to.

Files are written under a temporary name and renamed into place, ``meta.json`` last: an entry
without it (a run that was killed) is simply computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imagearena.prompts.search.index import (
    EXACT_LIMIT,
    ApproximateIndex,
    ExactIndex,
    IndexParams,
    SearchIndex,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from imagearena.prompts.embedding import Embedder
    from imagearena.prompts.loaders import PromptSet

CACHE_FOLDER = "prompt-embeddings"
VECTORS = "embeddings.npy"
META = "meta.json"
INDEX = "index.usearch"
INDEX_META = "index.json"

#: (phase, done, total) with phase "embedding" or "indexing".
Progress = Callable[[str, int, int], None]


def cache_root(data_dir: Path) -> Path:
    return data_dir / CACHE_FOLDER


def entry_folder(data_dir: Path, set_fingerprint: str, embedder_id: str) -> Path:
    key = hashlib.sha256(f"{set_fingerprint}\0{embedder_id}".encode()).hexdigest()[:24]
    return cache_root(data_dir) / key


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_atomic(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode) as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    _write_atomic(path, lambda fh: fh.write(json.dumps(data, indent=1)), mode="w")


def cached_embeddings(
    prompt_set: PromptSet, embedder: Embedder, data_dir: Path, on_progress: Progress | None = None
) -> tuple[NDArray[np.float32], Path, bool]:
    """The set's embeddings (memory-mapped when cached), the entry's folder, and whether they were
    computed now."""
    folder = entry_folder(data_dir, prompt_set.fingerprint, embedder.id)
    meta = _read_json(folder / META)
    expected = {"set": prompt_set.fingerprint, "embedder": embedder.id, "count": len(prompt_set)}
    if meta is not None and all(meta.get(k) == v for k, v in expected.items()):
        try:
            vectors = np.load(folder / VECTORS, mmap_mode="r")
        except (OSError, ValueError):
            vectors = None
        if vectors is not None and vectors.ndim == 2 and vectors.shape[0] == len(prompt_set):
            return vectors, folder, False

    progress = (lambda done, total: on_progress("embedding", done, total)) if on_progress else None
    vectors = embedder.encode(prompt_set.texts, on_progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (META, INDEX_META, INDEX):
        with contextlib.suppress(FileNotFoundError):
            (folder / stale).unlink()
    _write_atomic(folder / VECTORS, lambda fh: np.save(fh, vectors))
    _write_json(
        folder / META,
        {**expected, "source": prompt_set.source, "model": embedder.name, "dim": int(vectors.shape[1])},
    )
    _prune(data_dir, folder, prompt_set.source, embedder.name)
    return vectors, folder, True


def _prune(data_dir: Path, keep: Path, source: str, model: str) -> None:
    """Delete the entries of earlier versions of this source embedded by the same model name."""
    for other in cache_root(data_dir).iterdir():
        if other == keep or not other.is_dir():
            continue
        meta = _read_json(other / META)
        if meta is not None and meta.get("source") == source and meta.get("model") == model:
            shutil.rmtree(other, ignore_errors=True)


def cached_index(
    vectors: NDArray[np.float32],
    folder: Path,
    *,
    exact_limit: int = EXACT_LIMIT,
    params: IndexParams | None = None,
    on_progress: Progress | None = None,
) -> SearchIndex:
    """Exact search below ``exact_limit`` rows; else the approximate index saved in ``folder``
    (built and saved on first use, and again when a parameter of its graph changes; the search
    parameters, ``expansion_search`` and ``candidates``, apply to a saved graph as they are)."""
    if vectors.shape[0] < exact_limit:
        return ExactIndex(vectors)
    params = params or IndexParams()
    expected = {"count": int(vectors.shape[0]), "params": params.as_dict()}
    meta = _read_json(folder / INDEX_META)
    saved = meta.get("params") if meta is not None else None
    same_graph = isinstance(saved, dict) and all(saved.get(k) == v for k, v in params.graph_dict().items())
    if meta is not None and meta.get("count") == expected["count"] and same_graph:
        try:
            return ApproximateIndex.load(folder / INDEX, vectors, params)
        except (OSError, RuntimeError, ValueError):
            pass  # unreadable or from another version of usearch: build it again
    progress = (lambda done, total: on_progress("indexing", done, total)) if on_progress else None
    index = ApproximateIndex.build(vectors, params, on_progress=progress)
    with contextlib.suppress(FileNotFoundError):
        (folder / INDEX_META).unlink()
    tmp = folder / f".{INDEX}.{os.getpid()}.tmp"
    index.save(tmp)
    os.replace(tmp, folder / INDEX)
    _write_json(folder / INDEX_META, expected)
    return index
