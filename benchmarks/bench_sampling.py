"""Active vs uniform pair sampling: votes to reach Kendall tau >= 0.9, tau at every checkpoint, and
the cost of serving a pair.

    .venv/bin/python benchmarks/bench_sampling.py                 # 30 models, 20 seeds, spreads 100,200,400,800
    .venv/bin/python benchmarks/bench_sampling.py --spreads 100 --seeds 20

"Spread" is the standard deviation of the true strengths in Elo points: 30 normal draws span about
4 standard deviations, so spread 100 (the default regime, and `imagearena simulate`'s default) puts
about 400 Elo between the best and the worst model, as on public image arenas (300 to 500 points).

Anchor: the uniform sampler on the same seeded arenas (same true strengths, same voter model). A
control run, uniform again on other random draws, shows how large a difference noise alone makes.
Target: active needs at most 0.5x uniform's votes to reach tau >= 0.9 (median over seeds) and is no
worse than uniform at any checkpoint (read as: mean tau never more than 2 standard errors below).
For context it prints what designs that know the true strengths reach (the Gaussian approximation of
the estimate, with the information a vote keeps under the simulated draws: greedy, and the allocation
optimised for the final count): a bound for designs fixed in advance.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy.stats import norm

from imagearena.ratings.sampling import ELO_TO_NATURAL, ActiveSampler, UniformSampler
from imagearena.ratings.simulate import davidson_nu, draw_strengths, simulate, vote_information

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


class _Design:
    """Expected number of misordered pairs for a fixed allocation of votes over pairs, when the true
    strengths are known: the Gaussian approximation of the Bradley-Terry estimate (covariance = inverse
    Fisher information). ``nu`` is the voter's Davidson draw parameter: 0 for a crowd that never
    draws, else each vote carries the information of a half-win score under draws."""

    def __init__(self, strengths: np.ndarray, nu: float = 0.0) -> None:
        self.m = len(strengths)
        self.th = strengths * ELO_TO_NATURAL
        self.info = vote_information(self.th[:, None] - self.th[None, :], nu)
        self.iu, self.ju = np.triu_indices(self.m, 1)
        self.gap = np.abs(self.th[:, None] - self.th[None, :])

    def evaluate(self, alloc: np.ndarray, gradient: bool = False) -> tuple[float, np.ndarray | None]:
        """(expected misordered pairs, its derivative in the votes on each pair (m x m) or None)."""
        w = alloc * self.info
        cov = np.linalg.pinv(np.diag(w.sum(1)) - w)
        dc = np.diag(cov)
        v = np.maximum(dc[:, None] + dc[None, :] - 2 * cov, 1e-15)
        z = self.gap / np.sqrt(v)
        bad = float(norm.cdf(-z[self.iu, self.ju]).sum())
        if not gradient:
            return bad, None
        g = norm.pdf(z) * z / (2 * v)  # d Phi(-gap / sqrt v) / dv
        np.fill_diagonal(g, 0)
        mm = cov @ (np.diag(g.sum(1)) - g) @ cov
        dm = np.diag(mm)
        return bad, -self.info * (dm[:, None] + dm[None, :] - 2 * mm)

    def uniform_votes(self, target: float) -> float:
        everyone = 1.0 - np.eye(self.m)
        lo, hi = 1.0, 1e7
        for _ in range(60):  # votes uniform needs: evaluate(N / pairs * everyone) == target
            mid = np.sqrt(lo * hi)
            above = self.evaluate(everyone * mid / len(self.iu))[0] > target
            lo, hi = (mid, hi) if above else (lo, mid)
        return hi


def oracle_ratio(strengths: np.ndarray, nu: float = 0.0, share: float = 0.05) -> float:
    """Votes a truth-knowing greedy design needs, over uniform's, for an expected share of misordered
    pairs of ``share`` (tau = 1 - 2 share): each 1% step goes to the pair with the largest expected drop."""
    design = _Design(strengths, nu)
    target = share * len(design.iu)
    uniform_votes = design.uniform_votes(target)
    m = design.m
    alloc = (1.0 - np.eye(m)) * (0.02 * uniform_votes / len(design.iu))
    n = 0.02 * uniform_votes
    while True:
        bad, grad = design.evaluate(alloc, gradient=True)
        if bad <= target:
            return n / uniform_votes
        assert grad is not None
        np.fill_diagonal(grad, np.inf)
        a, b = divmod(int(np.argmin(grad)), m)
        step = 0.01 * n
        alloc[a, b] += step
        alloc[b, a] += step
        n += step


def optimal_ratio(
    strengths: np.ndarray, nu: float = 0.0, share: float = 0.05, iterations: int = 150
) -> float:
    """Like :func:`oracle_ratio`, but the whole allocation is optimised for the final count rather
    than grown greedily: exponentiated-gradient descent on the simplex for a given budget, bisection on
    the budget. This is the figure to read as the (truth-knowing, non-adaptive) bound."""
    design = _Design(strengths, nu)
    target = share * len(design.iu)
    uniform_votes = design.uniform_votes(target)
    off = 1.0 - np.eye(design.m)

    def best_for(budget: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        alloc = start * (budget / start.sum() * 2)
        best = (np.inf, alloc)
        for _ in range(iterations):
            bad, grad = design.evaluate(alloc, gradient=True)
            assert grad is not None
            if bad < best[0]:
                best = (bad, alloc.copy())
            alloc = alloc * np.exp(-0.5 * grad / np.abs(grad).max()) * off
            alloc *= budget / alloc.sum() * 2
        return best

    lo, hi, start = 0.2 * uniform_votes, uniform_votes, off
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        bad, alloc = best_for(mid, start)
        if bad > target:
            lo = mid
        else:
            hi, start = mid, alloc
    return hi / uniform_votes


def bench_quality(
    models: int, seeds: int, spread: float, tie_rate: float, oracle_seeds: int
) -> dict[str, float]:
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
    out: dict[str, float] = {"spread": spread}
    for name, label in (("active", "active / uniform"), ("control", "control / uniform")):
        ratio = med[name] / med["uniform"]
        lo, hi = ratio_interval(need[name], need["uniform"], rng)
        out[name] = ratio
        verdict = f"; target <= 0.50: {'PASS' if ratio <= 0.5 else 'FAIL'}" if name == "active" else ""
        print(f"ratio {label}: {ratio:.2f} (95% bootstrap {lo:.2f} .. {hi:.2f}){verdict}")
    if oracle_seeds:
        truths = [draw_strengths(models, spread, np.random.default_rng([s, 1])) for s in range(oracle_seeds)]
        nus = [davidson_nu(t, tie_rate) for t in truths]
        out["greedy"] = float(np.mean([oracle_ratio(t, nu) for t, nu in zip(truths, nus, strict=True)]))
        out["bound"] = float(np.mean([optimal_ratio(t, nu) for t, nu in zip(truths, nus, strict=True)]))
        out["bound_no_draws"] = float(np.mean([optimal_ratio(t) for t in truths]))
        print(
            f"truth-knowing designs (mean of {oracle_seeds} seeds), x uniform's votes: "
            f"optimised allocation {out['bound']:.2f}, greedy {out['greedy']:.2f} "
            f"(optimised for a crowd that never draws: {out['bound_no_draws']:.2f})"
            + ("; 0.50 is out of reach here" if out["bound"] > 0.5 else "")
        )
    diffs = {}
    for name in ("active", "control"):
        diff = tau[name] - tau["uniform"]
        mean_diff, se = diff.mean(axis=0), diff.std(axis=0, ddof=1) / np.sqrt(seeds)
        diffs[name] = (mean_diff, se)
        below, worse = int((mean_diff < 0).sum()), int((mean_diff < -2 * se).sum())
        out[f"{name}_below"], out[f"{name}_worse"], out[f"{name}_diff"] = (
            below,
            worse,
            float(mean_diff.mean()),
        )
        print(
            f"checkpoints where {name}'s mean tau is below uniform's: {below} of {len(cps)}; "
            f"more than 2 standard errors below: {worse}; "
            f"mean difference over checkpoints {mean_diff.mean():+.4f}"
        )
    out["checkpoints"] = len(cps)
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
    return out


def print_verdict(results: list[dict[str, float]]) -> None:
    """The issue's target, per spread: the first spread given is the default regime."""
    print("\n## verdict: votes to Kendall tau >= 0.9, active / uniform (target <= 0.50, never worse)")
    for k, r in enumerate(results):
        tag = " (default regime)" if k == 0 else ""
        ratio_ok = "PASS" if r["active"] <= 0.5 else "FAIL"
        never_worse = "PASS" if r["active_worse"] == 0 else "FAIL"
        bound = f", truth-knowing bound {r['bound']:.2f}" if "bound" in r else ""
        print(
            f"spread {r['spread']:g} Elo{tag}: ratio {r['active']:.2f} {ratio_ok} (control {r['control']:.2f}{bound}); "
            f"checkpoints more than 2 s.e. below uniform: {int(r['active_worse'])} of {int(r['checkpoints'])} "
            f"{never_worse} (below at all: {int(r['active_below'])})"
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
        "--spreads", default="100,200,400,800", help="std. dev. of true strengths (Elo), comma-separated"
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
    results = [
        bench_quality(args.models, args.seeds, spread, args.tie_rate, args.oracle_seeds)
        for spread in (float(s) for s in args.spreads.split(",") if s)
    ]
    print_verdict(results)
    bench_speed([int(s) for s in args.speed_sizes.split(",") if s])


if __name__ == "__main__":
    main()
