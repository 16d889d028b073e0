"""Label efficiency: human clicks to reach Kendall tau >= 0.9 for pair, best-of-4 and order-of-4 rounds
with uniform and active samplers, beside two anchors, printed as ratios.

    .venv/bin/python benchmarks/bench_label_efficiency.py                 # 30 models and 100 images, 20 seeds
    .venv/bin/python benchmarks/bench_label_efficiency.py --quick         # 30 models, 4 seeds, shorter budget
    .venv/bin/python benchmarks/bench_label_efficiency.py --sizes 30 --seeds 10 --jobs 2

The crowd (imagearena.ratings.simulate.RoundVoter) answers on hidden strengths, normal with standard
deviation ``--spread`` Elo: pairs by the Davidson model with about ``--tie-rate`` draws, a best of four
by a Plackett-Luce pick, an order of four by a Plackett-Luce order. Clicks: a pair vote and a pick are
one click, an order of four three. At 100 checkpoints up to ``--clicks-per-name`` x names clicks the
leaderboard's Bradley-Terry fit of the rank-broken battles is compared with the truth (Kendall tau).

Anchors, on the same seeded arenas: uniform pairs, and a replay of Image Ranker's strategy (TrueSkill,
a ring pass then all pairs in order, "smart shuffle"; see ImageRankerReplay), whose own TrueSkill
ranking is printed too. Target: the best round type with the active sampler needs at most 0.5x the
clicks of uniform pairs (median over seeds) and is never worse than uniform pairs at any checkpoint
(read as: its mean tau never more than 2 standard errors of the paired difference below). Last, the
cost of serving a group of four from a pool of 10,000 names, beside uniform groups.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from machine import cpu_model

from imagearena.ratings.sampling import ActiveSampler, UniformSampler
from imagearena.ratings.simulate import STRATEGIES, davidson_nu, draw_strengths, run_clicks

TARGET_TAU = 0.9
TARGET_RATIO = 0.5
ANCHOR = "uniform-pair"
ACTIVE_ROUNDS = ("active-pair", "active-best4", "active-order4")


def _one(
    task: tuple[str, int, int, float, float, list[int]],
) -> tuple[str, int, np.ndarray, np.ndarray | None]:
    strategy, size, seed, spread, tie_rate, checkpoints = task
    strengths = draw_strengths(size, spread, np.random.default_rng([seed, 1]))
    nu = davidson_nu(strengths, tie_rate)
    trace = run_clicks(strategy, strengths, nu, checkpoints, seed=seed)
    return strategy, seed, trace.tau, trace.own_tau


def clicks_needed(tau: np.ndarray, checkpoints: np.ndarray) -> np.ndarray:
    """Per seed, the first checkpoint with tau >= target; inf when never reached."""
    hit = tau >= TARGET_TAU
    return np.where(hit.any(axis=1), checkpoints[np.argmax(hit, axis=1)], np.inf)


def _fmt(x: float) -> str:
    return f"{x:.0f}" if np.isfinite(x) else "not reached"


def run_size(args: argparse.Namespace, size: int, pool: ProcessPoolExecutor | None) -> dict[str, float]:
    budget = args.clicks_per_name * size
    cps = sorted({max(1, round(budget * k / 100)) for k in range(1, 101)})
    checkpoints = np.asarray(cps, dtype=float)
    tasks = [
        (s, size, seed, args.spread, args.tie_rate, cps)
        for s in args.strategies
        for seed in range(args.seeds)
    ]
    t0 = time.perf_counter()
    results = list(pool.map(_one, tasks) if pool else map(_one, tasks))
    wall = time.perf_counter() - t0
    tau = {s: np.zeros((args.seeds, len(cps))) for s in args.strategies}
    own = np.zeros((args.seeds, len(cps)))
    for strategy, seed, t, o in results:
        tau[strategy][seed] = t
        if o is not None:
            own[seed] = o
    label = f"{size} {'images' if size >= 100 else 'models'}"
    print(
        f"\n## {label}: spread {args.spread:g} Elo, tie rate {args.tie_rate:g}, {args.seeds} seeds, "
        f"budget {budget} clicks, checkpoints every {cps[0]} ({wall:.0f} s)"
    )
    rows = dict(tau)
    if "imageranker" in tau:
        rows["imageranker (own TrueSkill)"] = own
    base = np.median(clicks_needed(tau[ANCHOR], checkpoints)) if ANCHOR in tau else np.nan
    print(
        f"{'strategy':30} {'median clicks to tau>=0.9':>26} {'quartiles':>17} {'reached':>8} {'ratio to uniform pairs':>23}"
    )
    ratios: dict[str, float] = {}
    for name, t in rows.items():
        need = clicks_needed(t, checkpoints)
        med = float(np.median(need))
        q1, q3 = np.quantile(need, [0.25, 0.75], method="inverted_cdf")  # no inf - inf
        ratio = med / base if np.isfinite(med) and np.isfinite(base) else float("nan")
        shown = f"{ratio:.2f}"
        if np.isfinite(med) and not np.isfinite(base):
            # uniform pairs' median lies beyond the budget: the ratio is below med / budget
            ratio = med / budget
            shown = f"< {ratio:.2f}"
            ratios[f"{name}:bound"] = 1.0
        ratios[name] = ratio
        print(
            f"{name:30} {_fmt(med):>26} {_fmt(q1) + '..' + _fmt(q3):>17} "
            f"{int(np.isfinite(need).sum()):>4}/{args.seeds:<3} {shown:>23}"
        )
    if ANCHOR not in tau:
        return ratios
    print("\nmean Kendall tau at fixed budgets (+-2 s.e. of the paired difference to uniform pairs)")
    picks = [k for k in (9, 19, 29, 49, 74, 99) if k < len(cps)]
    print(f"{'strategy':30} " + " ".join(f"{cps[k]:>14}" for k in picks))
    for name, t in rows.items():
        cells = []
        for k in picks:
            d = t[:, k] - tau[ANCHOR][:, k]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
            cells.append(f"{t[:, k].mean():.3f}{'' if name == ANCHOR else f' {d.mean():+.3f}±{2 * se:.3f}'}")
        print(f"{name:30} " + " ".join(f"{c:>14}" for c in cells))
    print(
        "\nnever worse than uniform pairs: checkpoints where the mean tau is below uniform's (more than 2 s.e. / at all)"
    )
    for name, t in rows.items():
        if name == ANCHOR:
            continue
        d = t - tau[ANCHOR]
        se = d.std(axis=0, ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.zeros(len(cps))
        worse = int((d.mean(axis=0) < -2 * se).sum())
        below = int((d.mean(axis=0) < 0).sum())
        ratios[f"{name}:worse"] = worse
        print(f"{name:30} {worse:>3} / {below:>3} of {len(cps)}")
    return ratios


def serving_cost(size: int = 10_000, rounds: int = 300) -> None:
    """Microseconds per served group of four (with its order-of-4 vote), uniform vs active, at ``size``."""
    names = [f"img{k:05d}" for k in range(size)]
    rng = np.random.default_rng(0)
    truth = rng.normal(size=size)
    index = {n: k for k, n in enumerate(names)}
    print(f"\n## serving a group of four from {size:,} names (order-of-4 votes, refits included)")
    out = {}
    for label, sampler in (
        ("uniform", UniformSampler(names, seed=0)),
        ("active", ActiveSampler(names, seed=0)),
    ):
        t0 = time.perf_counter()
        for _ in range(rounds):
            group = sampler.next_group(4)
            keys = truth[[index[g] for g in group]] + rng.gumbel(size=4)
            ranks = np.empty(4, dtype=np.int64)
            ranks[np.argsort(-keys)] = np.arange(1, 5)
            sampler.observe_round(group, ranks.tolist(), "order4")
        out[label] = (time.perf_counter() - t0) / rounds * 1e6
        print(f"{label:10} {out[label]:>10.0f} us per round")
    print(f"{'ratio':10} {out['active'] / out['uniform']:>10.1f} x uniform")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="30,100", help="numbers of contestants, comma-separated")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--spread", type=float, default=100.0, help="sd of the true strengths, Elo")
    ap.add_argument("--tie-rate", type=float, default=0.25, help="share of pair votes that are draws")
    ap.add_argument("--clicks-per-name", type=int, default=300, help="click budget per contestant")
    ap.add_argument(
        "--strategies", default=",".join(STRATEGIES), help="comma-separated, of: " + ", ".join(STRATEGIES)
    )
    ap.add_argument("--jobs", type=int, default=1, help="processes running seeds in parallel")
    ap.add_argument("--quick", action="store_true", help="30 models, 4 seeds, 200 clicks per name")
    ap.add_argument("--no-cost", action="store_true", help="skip the 10,000-name serving cost")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.seeds, args.clicks_per_name = "30", 4, 200
    args.strategies = [s for s in args.strategies.split(",") if s]
    unknown = [s for s in args.strategies if s not in STRATEGIES]
    if unknown:
        ap.error(f"unknown strategies {unknown}; use {', '.join(STRATEGIES)}")
    print(
        f"# bench_label_efficiency: {platform.python_version()}, numpy {np.__version__}, {cpu_model()}, "
        f"{os.cpu_count()} CPUs, {args.jobs} jobs; command: {' '.join(sys.argv[1:]) or '(defaults)'}"
    )
    verdict = []
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    try:
        for size in (int(x) for x in args.sizes.split(",") if x):
            ratios = run_size(args, size, pool)
            active = {k: v for k, v in ratios.items() if k in ACTIVE_ROUNDS and np.isfinite(v)}
            if active:
                best = min(active, key=active.__getitem__)
                worse = int(ratios.get(f"{best}:worse", 0))
                bound = "< " if f"{best}:bound" in ratios else ""
                verdict.append(
                    f"{size:>4} names: best active round type {best}: {bound}{active[best]:.2f}x uniform pairs' clicks "
                    f"{'PASS' if active[best] <= TARGET_RATIO else 'UNDECIDED' if bound else 'FAIL'} (target <= {TARGET_RATIO}); "
                    f"checkpoints more than 2 s.e. below uniform pairs: {worse} {'PASS' if worse == 0 else 'FAIL'}"
                )
    finally:
        if pool:
            pool.shutdown()
    if verdict:
        print("\n## verdict: clicks to Kendall tau >= 0.9, ratio to uniform pairs")
        print("\n".join(verdict))
    if not args.no_cost:
        serving_cost()


if __name__ == "__main__":
    main()
