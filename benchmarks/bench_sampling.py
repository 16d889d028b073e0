"""Active vs uniform pair sampling: votes to reach Kendall tau >= 0.9, tau at every checkpoint, and
the cost of serving a pair.

    .venv/bin/python benchmarks/bench_sampling.py                 # 30 models, 20 seeds, spreads 100,200,400
    .venv/bin/python benchmarks/bench_sampling.py --spreads 100 --seeds 20

Anchor: the uniform sampler on the same seeded arenas (same true strengths, same voter model). A
control run, uniform again on other random draws, shows how large a difference noise alone makes.
Target: active needs at most 0.5x uniform's votes to reach tau >= 0.9 (median over seeds) and is no
worse than uniform at any checkpoint. For context it also prints what a design that knows the true
strengths could reach (greedy on the expected number of misordered pairs, Gaussian approximation):
no sampler that has to learn the strengths can beat that.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy.special import expit
from scipy.stats import norm

from imagearena.ratings.sampling import ELO_TO_NATURAL, ActiveSampler, UniformSampler
from imagearena.ratings.simulate import draw_strengths, simulate

TARGET_TAU = 0.9


def votes_needed(tau: np.ndarray, checkpoints: np.ndarray) -> np.ndarray:
    """Per seed, the first checkpoint with tau >= target; inf when never reached."""
    hit = tau >= TARGET_TAU
    return np.where(hit.any(axis=1), checkpoints[np.argmax(hit, axis=1)], np.inf)


def ratio_interval(active: np.ndarray, uniform: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% bootstrap interval (seeds resampled in pairs) of median(active) / median(uniform)."""
    n = len(active)
    idx = rng.integers(n, size=(2000, n))
    r = np.median(active[idx], axis=1) / np.median(uniform[idx], axis=1)
    lo, hi = np.percentile(r, [2.5, 97.5])
    return float(lo), float(hi)


def oracle_ratio(strengths: np.ndarray, share: float = 0.05) -> float:
    """Votes a truth-knowing greedy design needs, over uniform's, for an expected share of misordered
    pairs of ``share`` (tau = 1 - 2 share), under the Gaussian approximation of the BT estimate."""
    m = len(strengths)
    th = strengths * ELO_TO_NATURAL
    p = expit(th[:, None] - th[None, :])
    info = p * (1 - p)
    iu, ju = np.triu_indices(m, 1)
    d = np.abs(th[iu] - th[ju])
    target = share * len(iu)

    def cov_of(alloc: np.ndarray) -> np.ndarray:
        w = alloc * info
        return np.linalg.pinv(np.diag(w.sum(1)) - w)

    def misordered(alloc: np.ndarray) -> float:
        c = cov_of(alloc)
        v = np.diag(c)[iu] + np.diag(c)[ju] - 2 * c[iu, ju]
        return float(norm.cdf(-d / np.sqrt(v)).sum())

    everyone = 1.0 - np.eye(m)
    lo, hi = 1.0, 1e7
    for _ in range(60):  # votes uniform needs: misordered(N / pairs * everyone) == target
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if misordered(everyone * mid / len(iu)) > target else (lo, mid)
    uniform_votes = hi
    alloc = everyone * (0.02 * uniform_votes / len(iu))
    n = 0.02 * uniform_votes
    while misordered(alloc) > target:
        c = cov_of(alloc)
        v = np.maximum(np.diag(c)[:, None] + np.diag(c)[None, :] - 2 * c, 1e-12)
        z = np.abs(th[:, None] - th[None, :]) / np.sqrt(v)
        g = norm.pdf(z) * z / (2 * v)
        np.fill_diagonal(g, 0)
        mm = c @ (np.diag(g.sum(1)) - g) @ c
        dm = np.diag(mm)
        score = info / (1 + info * v) * (dm[:, None] + dm[None, :] - 2 * mm)
        np.fill_diagonal(score, -1)
        a, b = divmod(int(np.argmax(score)), m)
        step = 0.01 * n
        alloc[a, b] += step
        alloc[b, a] += step
        n += step
    return n / uniform_votes


def bench_quality(models: int, seeds: int, spread: float, tie_rate: float, oracle_seeds: int) -> None:
    max_votes = int(1.5e6 / spread)
    step = max(10, max_votes // 150)
    cps = np.arange(step, max_votes + 1, step)
    t0 = time.perf_counter()
    res = simulate(
        models=models,
        votes=int(cps[-1]),
        seeds=seeds,
        tie_rate=tie_rate,
        spread=spread,
        checkpoints=list(cps),
    )
    # "control": uniform again on another random stream (same true strengths), an A/A test. Whatever separates
    # it from uniform is noise, the yardstick for reading the active-vs-uniform differences.
    ctl = simulate(
        models=models,
        votes=int(cps[-1]),
        seeds=seeds,
        tie_rate=tie_rate,
        spread=spread,
        checkpoints=list(cps),
        samplers=("uniform",),
        stream=1,
    )
    took = time.perf_counter() - t0
    tau = {"active": res.tau["active"], "uniform": res.tau["uniform"], "control": ctl.tau["uniform"]}
    need = {name: votes_needed(t, cps) for name, t in tau.items()}
    med = {name: float(np.median(v)) for name, v in need.items()}
    print(f"\n## spread {spread:g} Elo ({models} models, {seeds} seeds, tie rate {tie_rate:g}; {took:.0f} s)")
    print(f"draw share: active {res.tie_share['active']:.1%}, uniform {res.tie_share['uniform']:.1%}")
    for name in ("uniform", "active", "control"):
        v = need[name]
        print(
            f"{name:8s} votes to tau >= {TARGET_TAU}: median {med[name]:.0f} "
            f"(quartiles {np.percentile(v, 25):.0f} .. {np.percentile(v, 75):.0f}, never: {np.isinf(v).sum()})"
        )
    rng = np.random.default_rng(0)
    for name, label in (("active", "active / uniform"), ("control", "control / uniform")):
        ratio = med[name] / med["uniform"]
        lo, hi = ratio_interval(need[name], need["uniform"], rng)
        verdict = ("; target <= 0.50: " + ("MET" if ratio <= 0.5 else "NOT MET")) if name == "active" else ""
        print(f"ratio {label}: {ratio:.2f} (95% bootstrap {lo:.2f} .. {hi:.2f}){verdict}")
    if oracle_seeds:
        oracle = [
            oracle_ratio(draw_strengths(models, spread, np.random.default_rng([s, 1])))
            for s in range(oracle_seeds)
        ]
        print(
            f"truth-knowing greedy design: {np.mean(oracle):.2f} x uniform's votes (mean of {oracle_seeds} seeds)"
        )
    diffs = {}
    for name in ("active", "control"):
        diff = tau[name] - tau["uniform"]
        mean_diff, se = diff.mean(axis=0), diff.std(axis=0, ddof=1) / np.sqrt(seeds)
        diffs[name] = (mean_diff, se)
        print(
            f"checkpoints where {name}'s mean tau is below uniform's: {int((mean_diff < 0).sum())} of {len(cps)}; "
            f"more than 2 standard errors below: {int((mean_diff < -2 * se).sum())}; "
            f"mean difference over checkpoints {mean_diff.mean():+.4f}"
        )
    print(
        f"{'votes':>7} {'uniform':>8} {'active':>8} {'diff':>7} {'+-2se':>6} {'control':>8} {'diff':>7} {'+-2se':>6}"
    )
    for k in np.unique(np.linspace(0, len(cps) - 1, 12).round().astype(int)):
        (da, sa), (dc, sc) = diffs["active"], diffs["control"]
        tau2 = tau["control"]
        print(
            f"{int(cps[k]):7d} {tau['uniform'][:, k].mean():8.3f} {tau['active'][:, k].mean():8.3f} "
            f"{da[k]:+7.3f} {2 * sa[k]:6.3f} {tau2[:, k].mean():8.3f} {dc[k]:+7.3f} {2 * sc[k]:6.3f}"
        )


def bench_speed(sizes: list[int]) -> None:
    print("\n## serving cost (next_pair + observe, refits included), microseconds per vote")
    print(f"{'models':>7} {'uniform':>9} {'active':>9} {'ratio':>7} {'refit ms':>9}")
    for m in sizes:
        names = [f"m{k}" for k in range(m)]
        rng = np.random.default_rng(0)
        timings = []
        for cls in (UniformSampler, ActiveSampler):
            sampler = cls(names, seed=0)
            n = 4000 if m <= 100 else 1000
            for _ in range(2 * m):  # warm: every model has votes
                a, b = sampler.next_pair()
                sampler.observe(a, b, "model_a" if rng.random() < 0.5 else "tie")
            t = time.perf_counter()
            for _ in range(n):
                a, b = sampler.next_pair()
                sampler.observe(a, b, "model_a" if rng.random() < 0.5 else "tie")
            timings.append((time.perf_counter() - t) / n * 1e6)
        t = time.perf_counter()
        for _ in range(5):
            sampler.refit()  # type: ignore[union-attr]
        refit_ms = (time.perf_counter() - t) / 5 * 1e3
        print(f"{m:7d} {timings[0]:9.1f} {timings[1]:9.1f} {timings[1] / timings[0]:7.1f} {refit_ms:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--spreads", default="100,200,400", help="std. dev. of true strengths (Elo), comma-separated"
    )
    parser.add_argument("--tie-rate", type=float, default=0.25)
    parser.add_argument(
        "--oracle-seeds", type=int, default=5, help="seeds for the truth-knowing design (0: skip)"
    )
    parser.add_argument("--speed-sizes", default="30,100,300")
    args = parser.parse_args()
    print(
        f"# bench_sampling: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}"
    )
    print("anchor: the uniform sampler on the same seeded arenas")
    for spread in (float(s) for s in args.spreads.split(",") if s):
        bench_quality(args.models, args.seeds, spread, args.tie_rate, args.oracle_seeds)
    bench_speed([int(s) for s in args.speed_sizes.split(",") if s])


if __name__ == "__main__":
    main()
