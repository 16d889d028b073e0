"""Judge-vs-human agreement speed: imagearena.ratings.agreement over a million votes, beside anchors,
printed as ratios.

Anchors:
- 1 s for a million votes with 1000 bootstrap rounds and a per-model-pair breakdown (the target:
  "well under a second").
- A plain bootstrap that resamples the votes (indices drawn per round, the textbook way), timed on a
  few rounds and scaled to the same 1000.

Cases: a million pair votes (45 model pairs, a quarter of them ties or both_bad) with a tie margin;
the same count of pairs made of 700,000 pair votes and 50,000 order4 rounds (rank-broken, resampled
by round); the human ceiling over a million votes on 200,000 pairs of images by 5,000 voters.
Peak memory is what tracemalloc saw numpy and Python allocate during the call.

End to end (``--study-votes N``, 0 to skip): a SQLite study with 20 models x 50 prompts, N pair votes
on served matches and one stored score per image, through arena.agreement.stored_agreement (what
the API and the leaderboard page call: the read of the votes with their images and the scores, then
the arithmetic), its cache cleared before each call.

Usage:  .venv/bin/python benchmarks/bench_agreement.py [--votes 1000000] [--rounds 1000] [--repeat 3]
            [--study-votes 100000]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from machine import cpu_model
from seed_votes import insert_random_votes

from imagearena.ratings.agreement import agreement, human_ceiling
from imagearena.settings import Settings

ANCHOR_S = 1.0


def pair_votes(n: int, seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    p = 1 / (1 + np.exp(-(a - b)))
    outcome = np.where(rng.random(n) < 0.25, rng.integers(2, 4, n), (rng.random(n) > p).astype(np.int64))
    return {
        "score_a": a,
        "score_b": b,
        "outcome": outcome.astype(np.int8),
        "breakdowns": {"model_pair": (rng.integers(0, 45, n), [f"pair-{k}" for k in range(45)])},
    }


def with_rounds(n: int, seed: int = 1) -> dict[str, object]:
    """n pairs: 70% pair votes, the rest six at a time from order4 rounds (one cluster each)."""
    data = pair_votes(n, seed)
    singles = int(n * 0.7)
    singles += (n - singles) % 6
    cluster = np.concatenate([np.arange(singles), singles + np.arange(n - singles) // 6])
    return {**data, "cluster": cluster}


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best wall time of ``repeat`` calls, the peak traced memory of one call in MiB, its result."""
    result = fn()  # warm up (imports, caches)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, result


def plain_bootstrap_s(right: np.ndarray, rounds: int, sample: int = 5) -> float:
    """Seconds for ``rounds`` rounds of resampling indices, timed on ``sample`` rounds."""
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(sample):
        right[rng.integers(0, len(right), len(right))].mean()
    return (time.perf_counter() - t) / sample * rounds


def build_study(folder: Path, votes: int, models: int = 20, prompts: int = 50) -> Settings:
    """A SQLite database holding one study with ``votes`` human pair votes and a score per image."""
    import hashlib
    from dataclasses import dataclass

    from imagearena.storage import catalog, studies
    from imagearena.storage.engine import make_engine, make_sessionmaker, upgrade_database
    from imagearena.storage.scores import set_score

    @dataclass(frozen=True)
    class Info:
        sha256: str
        format: str = "png"
        width: int = 8
        height: int = 8
        size_bytes: int = 100

    settings = Settings(data_dir=folder, db_url=f"sqlite:///{folder / 'bench.db'}")
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    rng = np.random.default_rng(5)
    with make_sessionmaker(engine)() as s:
        study = studies.get_or_create_study(s, "bench")
        ms = [catalog.get_or_create_model(s, f"model-{i:02d}") for i in range(models)]
        ps = [catalog.get_or_create_prompt(s, f"prompt {j}") for j in range(prompts)]
        images = [
            [
                catalog.add_image(s, study, m, p, Info(hashlib.sha256(f"{i} {j}".encode()).hexdigest()))[0]
                for j, p in enumerate(ps)
            ]
            for i, m in enumerate(ms)
        ]
        for row in images:
            for image in row:
                set_score(s, image, "bench", float(rng.normal()))
        s.commit()
        ids = [[(im.id, im.model_id, im.prompt_id) for im in row] for row in images]
        insert_random_votes(s, study.id, ids, votes, rng)
    engine.dispose()
    return settings


def study_case(votes: int, rounds: int, repeat: int) -> None:
    from imagearena.arena import agreement as use_case
    from imagearena.arena.runtime import Arena

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        settings = build_study(Path(tmp), votes)
        print(f"\nend to end: a SQLite study with {votes:,} votes (built in {time.perf_counter() - t:.0f} s)")
        arena = Arena(settings)
        try:

            def call() -> object:
                use_case._CACHE.clear()
                return use_case.stored_agreement(arena, "bench", ["bench"], rounds=rounds)

            seconds, peak, report = measure(call, repeat)
            t = time.perf_counter()
            use_case.stored_agreement(arena, "bench", ["bench"], rounds=rounds)
            cached = time.perf_counter() - t
        finally:
            arena.close()
    per_million = seconds / votes * 1e6
    print(
        f"{'stored_agreement (read + arithmetic)':<44} {seconds:8.3f} {votes / seconds:12,.0f} {'':>6} {peak:9.1f}"
    )
    print(
        f"  {per_million:.1f} s per million votes at this rate; a repeated call answers from the cache in {1000 * cached:.1f} ms"
    )
    print(
        f"  check: {report.pairs:,} decisive pairs, accuracy {report.scorers[0].result.decisive.accuracy:.4f}"
    )  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--study-votes", type=int, default=100_000)
    args = parser.parse_args()
    n, rounds = args.votes, args.rounds
    print(f"machine: {cpu_model()}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{n:,} votes, {rounds} bootstrap rounds, best of {args.repeat}; anchor {ANCHOR_S:g} s")
    print(f"{'case':<44} {'seconds':>8} {'votes/s':>12} {'ratio':>6} {'peak MiB':>9}")

    def row(name: str, seconds: float, peak: float) -> None:
        print(f"{name:<44} {seconds:8.3f} {n / seconds:12,.0f} {seconds / ANCHOR_S:6.2f} {peak:9.1f}")

    pairs = pair_votes(n)
    s, peak, result = measure(lambda: agreement(**pairs, margin=0.1, rounds=rounds), args.repeat)  # type: ignore[arg-type]
    row("pair votes, model-pair breakdown, tie margin", s, peak)
    mixed = with_rounds(n)
    s2, peak2, _ = measure(lambda: agreement(**mixed, rounds=rounds), args.repeat)  # type: ignore[arg-type]
    row("pair votes + order4 rounds (clustered)", s2, peak2)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 200_000, n)
    y = (x + 1 + rng.integers(0, 3, n)) % 200_000
    voters = rng.integers(0, 5_000, n)
    s3, peak3, ceiling = measure(
        lambda: human_ceiling(x, y, pairs["outcome"], voters, rounds=rounds),  # type: ignore[arg-type]
        args.repeat,
    )
    row("human ceiling", s3, peak3)
    decisive = np.asarray(pairs["outcome"]) <= 1
    right = (np.asarray(pairs["score_a"]) > np.asarray(pairs["score_b"]))[decisive] == (
        np.asarray(pairs["outcome"])[decisive] == 0
    )
    plain = plain_bootstrap_s(right, rounds)
    print(
        f"plain resampling bootstrap of the same {int(decisive.sum()):,} decisive votes: {plain:.1f} s "
        f"(estimated from 5 rounds); ours is {plain / s:,.0f}x faster for the whole call"
    )
    acc = result.decisive  # type: ignore[attr-defined]
    print(
        f"check: accuracy {acc.accuracy:.4f} [{acc.lower:.4f}, {acc.upper:.4f}] on {acc.n:,} decisive votes"
    )
    print(f"check: ceiling {ceiling.agreement.accuracy:.4f} over {ceiling.image_pairs:,} image pairs")  # type: ignore[attr-defined]
    if args.study_votes:
        study_case(args.study_votes, rounds, args.repeat)


if __name__ == "__main__":
    main()
