"""Exact and approximate top-k search over unit-length embeddings (cosine similarity = dot product).

Below :data:`EXACT_LIMIT` rows a query is one matrix-vector product over all of them: exact, with
nothing to build or store. Above it, an HNSW graph (usearch) with int8-quantised vectors finds
:attr:`IndexParams.candidates` times k candidates, which are then re-ranked with the float32 vectors:
the similarities returned are exact either way, and the re-ranking wins back most of what the
quantisation loses in recall (``benchmarks/bench_retrieval.py`` measures both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from imagearena.errors import MissingDependencyError

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Sets with fewer prompts are searched exactly; larger ones through the approximate index.
EXACT_LIMIT = 50_000
EXACT_CHUNK_ROWS = 131_072  # rows per matrix product: bounds the temporary similarity block

Hits = tuple["NDArray[np.int64]", "NDArray[np.float32]"]


class SearchIndex(Protocol):
    def search(self, queries: NDArray[np.float32], k: int) -> Hits:
        """Per query row, the k best row indices (best first) and their cosine similarities; fewer
        than k when the set is smaller (padded with -1 and -inf)."""
        ...


@dataclass(frozen=True)
class IndexParams:
    """How the approximate index is built and searched; stored beside a saved index."""

    dtype: str = "i8"
    # At 1,000,000 rows, 32 links per node gave recall@10 0.975-0.994 over four builds at ef_search
    # 1024 and x4 candidates; 16 links gave 0.956-0.958 (benchmarks/README.md, bench_retrieval.py).
    connectivity: int = 32
    expansion_add: int = 64
    expansion_search: int = 1024
    candidates: int = 4  # HNSW results per wanted result, re-ranked exactly

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def graph_dict(self) -> dict[str, Any]:
        """The parameters the saved graph depends on; the search ones can change without a rebuild."""
        return {"dtype": self.dtype, "connectivity": self.connectivity, "expansion_add": self.expansion_add}


def _order(sims: NDArray[np.float32], rows: NDArray[np.int64], k: int) -> Hits:
    """Each row's k best (highest similarity, then lowest index), best first, padded to k."""
    m = sims.shape[0]
    out_i = np.full((m, k), -1, dtype=np.int64)
    out_s = np.full((m, k), -np.inf, dtype=np.float32)
    for q in range(m):
        valid = rows[q] >= 0
        order = np.lexsort((rows[q][valid], -sims[q][valid]))[:k]
        out_i[q, : len(order)] = rows[q][valid][order]
        out_s[q, : len(order)] = sims[q][valid][order]
    return out_i, out_s


def exact_top_k(vectors: NDArray[np.float32], queries: NDArray[np.float32], k: int) -> Hits:
    """The exact top k by dot product, a chunk of rows at a time (vectors may be memory-mapped)."""
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    m, n = queries.shape[0], vectors.shape[0]
    best_s = np.full((m, 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((m, 0), dtype=np.int64)
    for start in range(0, n, EXACT_CHUNK_ROWS):
        block = np.asarray(vectors[start : start + EXACT_CHUNK_ROWS], dtype=np.float32)
        sims = queries @ block.T
        if sims.shape[1] > k:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        best_s = np.concatenate([best_s, np.take_along_axis(sims, part, axis=1)], axis=1)
        best_i = np.concatenate([best_i, part.astype(np.int64) + start], axis=1)
        if best_s.shape[1] > 4 * k:  # keep the running candidate list short
            best_i, best_s = _order(best_s, best_i, k)
    return _order(best_s, best_i, k)


class ExactIndex:
    """Brute force over all rows."""

    def __init__(self, vectors: NDArray[np.float32]) -> None:
        self.vectors = vectors

    def search(self, queries: NDArray[np.float32], k: int) -> Hits:
        return exact_top_k(self.vectors, queries, k)


def _usearch() -> Any:
    try:
        from usearch import index
    except ImportError:
        raise MissingDependencyError("approximate prompt search", "prompts", "usearch") from None
    return index


class ApproximateIndex:
    """An HNSW graph over the rows (keys are row numbers), its candidates re-ranked exactly."""

    def __init__(self, graph: Any, vectors: NDArray[np.float32], params: IndexParams) -> None:
        self.graph, self.vectors, self.params = graph, vectors, params
        graph.expansion_search = params.expansion_search

    @classmethod
    def build(
        cls,
        vectors: NDArray[np.float32],
        params: IndexParams | None = None,
        *,
        threads: int = 0,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ApproximateIndex:
        """Insert every row; ``threads=0`` uses all cores; ``on_progress(done, total)`` as it goes."""
        params = params or IndexParams()
        graph = _usearch().Index(
            ndim=vectors.shape[1],
            metric="cos",
            dtype=params.dtype,
            connectivity=params.connectivity,
            expansion_add=params.expansion_add,
        )
        total = vectors.shape[0]
        step = 65_536
        for start in range(0, total, step):
            block = np.ascontiguousarray(vectors[start : start + step], dtype=np.float32)
            keys = np.arange(start, start + len(block), dtype=np.uint64)
            graph.add(keys, block, threads=threads)
            if on_progress is not None:
                on_progress(start + len(block), total)
        return cls(graph, vectors, params)

    def save(self, path: Path) -> None:
        self.graph.save(str(path))

    @classmethod
    def load(cls, path: Path, vectors: NDArray[np.float32], params: IndexParams) -> ApproximateIndex:
        """Memory-map a saved graph (opening it reads nothing up front)."""
        graph = _usearch().Index.restore(str(path), view=True)
        if graph is None or len(graph) != vectors.shape[0]:
            raise ValueError(f"{path} is not an index over these {vectors.shape[0]} rows")
        return cls(graph, vectors, params)

    def search(self, queries: NDArray[np.float32], k: int) -> Hits:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        wanted = min(self.vectors.shape[0], max(k, k * self.params.candidates))
        found = self.graph.search(queries, wanted, threads=1 if len(queries) == 1 else 0)
        keys = np.atleast_2d(found.keys).astype(np.int64)
        # One query row gives usearch's Matches (no counts), several its BatchMatches.
        counts: NDArray[np.int64] = np.atleast_1d(np.asarray(getattr(found, "counts", keys.shape[1])))
        sims = np.full(keys.shape, -np.inf, dtype=np.float32)
        for q in range(len(queries)):
            keys[q, counts[q] :] = -1
            rows = keys[q, : counts[q]]
            sims[q, : counts[q]] = np.asarray(self.vectors[rows], dtype=np.float32) @ queries[q]
        return _order(sims, keys, k)
