"""Topic retrieval speed: embedding throughput of the default model, building the approximate index
over 1,000,000 prompt embeddings, and a top-10 query against exact numpy search in the same run, with
the index's recall@10. Printed beside the anchors, as ratios.

Anchors:
- query: the 10 ms p50 target, and exact numpy search (imagearena.prompts.search.index.exact_top_k,
  one query against every row) over the same vectors in the same run;
- recall@10 against that exact search: target 0.95;
- embedding: sentence-transformers' own ``encode`` called on the whole list (its defaults, batch 32),
  against imagearena's Embedder.encode (chunks of 2048, batch 64) on the same prompts.

The 1,000,000 vectors: there are no million real prompts here, so they are made from the real
MiniLM embeddings of the 2,198 prompts in ../shared/data (PartiPrompts and both ImageReward files):
each is a random mix a*e_i + (1-a)*e_j of two of them plus Gaussian noise of norm --noise, made unit
length. Queries are 200 other such mixes. Use --vectors random for isotropic Gaussian vectors (the
hardest case for a graph index; no structure at all). --seed picks another draw of vectors and queries
(seed S draws the vectors with 2S-1 and the queries with 2S; the default 1 is the draw of earlier runs).

The graph and search settings default to IndexParams' (--connectivity, --ef-add, --ef-search,
--candidates, --dtype override them); --sweep repeats the queries on the same graph over
--sweep-ef x --sweep-candidates. Build and query CPU seconds are printed beside the wall times, since
on a shared machine the wall times are inflated by other work.

Usage:  .venv/bin/python benchmarks/bench_retrieval.py [--count 1000000] [--queries 200] [--seed 1]
            [--embeddings-from DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from machine import cpu_model

from imagearena.prompts.embedding import Embedder
from imagearena.prompts.loaders import load_prompt_set
from imagearena.prompts.search.index import ApproximateIndex, IndexParams, exact_top_k

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = ("PartiPrompts.tsv", "imagereward-test.json", "imagereward-benchmark-prompts.json")
K = 10


def real_prompts() -> list[str]:
    return [t for name in SETS for t in load_prompt_set(DATA / name).texts]


def bench_embedding(texts: list[str]) -> tuple[np.ndarray, dict[str, float]]:
    embedder = Embedder(device="cpu")
    t = time.perf_counter()
    embedder.model  # noqa: B018
    load_s = time.perf_counter() - t
    embedder.encode(texts[:64])  # warm-up
    t = time.perf_counter()
    vectors = embedder.encode(texts)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    embedder.model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    anchor = time.perf_counter() - t
    return vectors, {"load_s": load_s, "ours_per_s": len(texts) / ours, "anchor_per_s": len(texts) / anchor}


def synthetic(base: np.ndarray, count: int, noise: float, seed: int, kind: str) -> np.ndarray:
    """``count`` unit vectors of base's width, built a block at a time (see the module docstring)."""
    rng = np.random.default_rng(seed)
    d = base.shape[1]
    out = np.empty((count, d), dtype=np.float32)
    step = 100_000
    for s in range(0, count, step):
        n = min(step, count - s)
        if kind == "random":
            block = rng.standard_normal((n, d), dtype=np.float32)
        else:
            i, j = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
            a = rng.random((n, 1), dtype=np.float32)
            block = a * base[i] + (1 - a) * base[j]
            block += rng.standard_normal((n, d), dtype=np.float32) * (noise / np.sqrt(d))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[s : s + n] = block
    return out


def timed_queries(
    search,  # noqa: ANN001
    queries: np.ndarray,
    cpu: list[float] | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Each query alone: its rows and wall times (its CPU times appended to ``cpu`` when given)."""
    rows, times = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        r, _ = search(q[None, :], K)
        times.append(time.perf_counter() - t)
        if cpu is not None:
            cpu.append(time.process_time() - c)
        rows.append(r[0])
    return np.array(rows), times


def pct(times: list[float], p: float) -> float:
    return float(np.percentile(np.array(times) * 1e3, p))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
    )


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vectors", choices=["mixed", "random"], default="mixed")
    parser.add_argument("--noise", type=float, default=0.5, help="norm of the noise added to each mix")
    parser.add_argument("--sweep", action="store_true", help="also try other search settings")
    parser.add_argument(
        "--dtype", default=IndexParams.dtype, help="the graph's vector storage: i8, bf16, f16, f32"
    )
    parser.add_argument(
        "--connectivity", type=int, default=IndexParams.connectivity, help="the graph's links per node (M)"
    )
    parser.add_argument(
        "--ef-add", type=int, default=IndexParams.expansion_add, help="the build's expansion_add"
    )
    parser.add_argument(
        "--ef-search", type=int, default=IndexParams.expansion_search, help="the query's expansion_search"
    )
    parser.add_argument(
        "--candidates",
        type=int,
        default=IndexParams.candidates,
        help="HNSW results per wanted result, re-ranked exactly",
    )
    parser.add_argument("--seed", type=int, default=1, help="which draw of vectors and queries")
    parser.add_argument(
        "--sweep-ef", type=_ints, default=[64, 128, 256, 512, 1024], help="ef_search values of --sweep"
    )
    parser.add_argument(
        "--sweep-candidates", type=_ints, default=[1, 2, 4, 8], help="candidates values of --sweep"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--embeddings-from",
        type=Path,
        help="take the real embeddings from the embedding cache in this data dir (computed there once) "
        "instead of measuring embedding throughput",
    )
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}"
    )
    if args.embeddings_from is not None:
        from imagearena.prompts.cache import cached_embeddings

        embedder = Embedder(device="cpu")
        parts = [
            cached_embeddings(load_prompt_set(DATA / n), embedder, args.embeddings_from)[0] for n in SETS
        ]
        base, emb = np.concatenate([np.asarray(p) for p in parts]), {}
    else:
        base, emb = bench_embedding(real_prompts())
    if emb:
        print(
            f"embedding ({len(base)} real prompts, all-MiniLM-L6-v2 on CPU; model load {emb['load_s']:.1f} s): "
            f"{emb['ours_per_s']:.0f} prompts/s; anchor sentence-transformers encode {emb['anchor_per_s']:.0f}"
            f" prompts/s; ratio {emb['ours_per_s'] / emb['anchor_per_s']:.2f}"
        )

    vectors = synthetic(base, args.count, args.noise, 2 * args.seed - 1, args.vectors)
    queries = synthetic(base, args.queries, args.noise, 2 * args.seed, args.vectors)
    print(
        f"vectors: {args.count} x {vectors.shape[1]} ({args.vectors}, noise {args.noise}, seed {args.seed}), "
        f"{args.queries} queries"
    )

    truth, exact_times = timed_queries(lambda q, k: exact_top_k(vectors, q, k), queries)
    exact_p50 = pct(exact_times, 50)
    print(f"exact numpy top-{K}: p50 {exact_p50:.1f} ms, p99 {pct(exact_times, 99):.1f} ms")

    params = IndexParams(
        dtype=args.dtype,
        connectivity=args.connectivity,
        expansion_add=args.ef_add,
        expansion_search=args.ef_search,
        candidates=args.candidates,
    )
    t, cpu = time.perf_counter(), time.process_time()
    index = ApproximateIndex.build(vectors, params)
    build_s, build_cpu = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"index build ({params.dtype}, M={params.connectivity}, ef_add={params.expansion_add}): {build_s:.1f} s "
        f"({args.count / build_s:.0f} vectors/s), CPU {build_cpu:.1f} s ({build_cpu / build_s:.2f} cores busy)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.usearch"
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        index = ApproximateIndex.load(path, vectors, params)
        load_s = time.perf_counter() - t
        size_mb = path.stat().st_size / 2**20
        print(
            f"index file {size_mb:.0f} MiB: save {save_s:.2f} s, open (memory-mapped) {load_s * 1e3:.1f} ms"
        )
        index.search(queries[:20], K)  # page in the upper levels
        cpu_times: list[float] = []
        found, times = timed_queries(index.search, queries, cpu_times)
        p50, rec = pct(times, 50), recall(found, truth)
        print(
            f"approximate top-{K} (ef_search={params.expansion_search}, x{params.candidates} candidates "
            f"re-ranked): p50 {p50:.2f} ms (ratio to 10 ms target {p50 / 10:.3f}; to exact numpy "
            f"{p50 / exact_p50:.4f}, {exact_p50 / p50:.0f}x faster), p99 {pct(times, 99):.2f} ms, "
            f"CPU p50 {pct(cpu_times, 50):.2f} ms, recall@{K} {rec:.3f} (ratio to 0.95 target {rec / 0.95:.3f})"
        )
        sweep = []
        if args.sweep:
            for ef in args.sweep_ef:
                for cand in args.sweep_candidates:
                    trial = ApproximateIndex(
                        index.graph,
                        vectors,
                        replace(params, expansion_search=ef, candidates=cand),
                    )
                    f, ts = timed_queries(trial.search, queries)
                    sweep.append(
                        {
                            "ef_search": ef,
                            "candidates": cand,
                            "p50_ms": pct(ts, 50),
                            "recall": recall(f, truth),
                        }
                    )
                    print(
                        f"  ef_search {ef:4d}, x{cand} candidates: p50 {pct(ts, 50):.2f} ms, recall@{K} {recall(f, truth):.3f}"
                    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "count": args.count,
                    "vectors": args.vectors,
                    "seed": args.seed,
                    "params": params.as_dict(),
                    "embedding": emb,
                    "exact_p50_ms": exact_p50,
                    "build_s": build_s,
                    "build_cpu_s": build_cpu,
                    "query_p50_ms": p50,
                    "query_p99_ms": pct(times, 99),
                    "query_cpu_p50_ms": pct(cpu_times, 50),
                    "recall_at_10": rec,
                    "sweep": sweep,
                },
                indent=2,
            )
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
