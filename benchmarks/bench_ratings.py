"""Ratings engine speed: Bradley-Terry (sandwich, bootstrap), the whole `imagearena rate` process, and
online Elo / TrueSkill replays, each beside an anchor, printed as ratios.

Anchors:
- BT: a plain per-row fit (the FastChat approach: one likelihood term per battle, L-BFGS, ties as half
  a win), written below, with a per-row sandwich; its bootstrap resamples rows and refits from scratch.
- arena-rank (LMArena's package, jax) when installed in a separate venv (default ../venvs/arena-rank beside the checkout),
  run through a subprocess because it pins its own numpy and jax.
- Elo: a per-row loop over records with a dict of ratings, as FastChat's compute_online_elo.
- TrueSkill: the `trueskill` package's rate_1vs1, timed on a slice and scaled to the full count.

Usage:  .venv/bin/python benchmarks/bench_ratings.py [--battles 1000000] [--models 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from machine import cpu_model

from imagearena.ratings import Battles, leaderboard
from imagearena.ratings.bradley_terry import ELO_PER_NAT, aggregate, bootstrap_bt, fit_bt
from imagearena.ratings.elo import online_elo
from imagearena.ratings.trueskill import replay_trueskill

WINNERS = ("model_a", "model_b", "tie", "both_bad")
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ data


def synthetic(n: int, m: int, seed: int = 0, tie_share: float = 0.25) -> Battles:
    """Uniform random pairs among m models with N(0, 200) Elo strengths; 25% draws (tie or both_bad)."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 200, m)
    a = rng.integers(0, m, n).astype(np.int32)
    b = ((a + rng.integers(1, m, n)) % m).astype(np.int32)
    p = 1 / (1 + 10 ** ((strength[b] - strength[a]) / 400))
    draw = rng.random(n) < tie_share
    o = np.where(draw, rng.integers(2, 4, n), (rng.random(n) > p).astype(np.int64)).astype(np.int8)
    ts = 1.7e9 + np.arange(n, dtype=np.float64)
    return Battles([f"model-{i:03d}" for i in range(m)], a, b, o, ts)


def write_csv(battles: Battles, path: Path) -> None:
    names = np.array(battles.models)
    with path.open("w") as f:
        f.write("model_a,model_b,winner,tstamp\n")
        step = 200_000
        for s in range(0, len(battles), step):
            sl = slice(s, s + step)
            cols = zip(
                names[battles.a[sl]],
                names[battles.b[sl]],
                np.array(WINNERS)[battles.outcome[sl]],
                battles.tstamp[sl].tolist(),  # type: ignore[index]
                strict=True,
            )
            f.write("".join(f"{x},{y},{w},{t:.0f}\n" for x, y, w, t in cols))


# --------------------------------------------------------------------------------------- anchors


def anchor_bt_per_row(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, m: int, init=None):  # noqa: ANN001, ANN201
    """Per-row BT: every battle is a likelihood term; L-BFGS on the full arrays; per-row sandwich."""
    from scipy.optimize import minimize

    y = np.array([1.0, 0.0, 0.5, 0.5])[outcome]

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[a] - theta[b]
        p = 1 / (1 + np.exp(-d))
        r = y - p
        g = np.bincount(a, r, minlength=m) - np.bincount(b, r, minlength=m)
        return float(np.sum(np.logaddexp(0, d) - y * d)), -g

    x0 = np.zeros(m) if init is None else init
    theta = minimize(nll, x0, jac=True, method="L-BFGS-B", options={"gtol": 1e-8, "maxiter": 1000}).x
    theta -= theta.mean()
    return theta


def anchor_sandwich(
    theta: np.ndarray, a: np.ndarray, b: np.ndarray, outcome: np.ndarray, m: int
) -> np.ndarray:
    y = np.array([1.0, 0.0, 0.5, 0.5])[outcome]
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))

    def lap(h: np.ndarray) -> np.ndarray:
        mat = np.zeros((m, m))
        np.add.at(mat, (a, b), -h)
        np.add.at(mat, (b, a), -h)
        mat[np.diag_indices(m)] = np.bincount(a, h, minlength=m) + np.bincount(b, h, minlength=m)
        return mat

    ones = np.full((m, m), 1.0 / m)  # inverse on the centred subspace (pinv is unstable here)
    hinv = np.linalg.inv(lap(p * (1 - p)) + ones) - ones
    cov = hinv @ lap((y - p) ** 2) @ hinv
    return ELO_PER_NAT * np.sqrt(np.diag(cov))


def anchor_elo(records: list[tuple[str, str, str]], k: float = 32.0) -> dict[str, float]:
    rating: dict[str, float] = {}
    for model_a, model_b, winner in records:
        ra = rating.get(model_a, 1000.0)
        rb = rating.get(model_b, 1000.0)
        ea = 1 / (1 + 10 ** ((rb - ra) / 400))
        sa = 1.0 if winner == "model_a" else 0.0 if winner == "model_b" else 0.5
        rating[model_a] = ra + k * (sa - ea)
        rating[model_b] = rb - k * (sa - ea)
    return rating


ARENA_RANK_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
from arena_rank.utils.data_utils import PairDataset
from arena_rank.models.bradley_terry import BradleyTerry
t_import = time.perf_counter()
df = pd.read_csv(sys.argv[1], usecols=["model_a", "model_b", "winner"])
t_read = time.perf_counter()
ds = PairDataset.from_pandas(df)
t_ds = time.perf_counter()
model = BradleyTerry(n_competitors=len(ds.competitors))
res = model.compute_ratings_and_cis(ds, significance_level=0.05)
t_fit = time.perf_counter()
out = {"import_s": t_import - t0, "read_s": t_read - t_import, "dataset_s": t_ds - t_read,
       "fit_sandwich_s": t_fit - t_ds, "competitors": list(ds.competitors),
       "ratings": [float(x) for x in res["ratings"]],
       "lower": [float(x) for x in res["rating_lower"]], "upper": [float(x) for x in res["rating_upper"]]}
if len(sys.argv) > 2:
    model2 = BradleyTerry(n_competitors=len(ds.competitors))
    t = time.perf_counter()
    model2.compute_ratings_and_cis(ds, ci_method="bootstrap", num_bootstrap=int(sys.argv[2]), n_jobs=1)
    out["bootstrap_s"] = time.perf_counter() - t
print(json.dumps(out))
"""


# -------------------------------------------------------------------------------------- helpers


_last_cpu = [0.0]


def best_of(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    """Best wall time of ``repeat`` runs; the best CPU time of this thread (idle BLAS workers spin and
    would be counted by process_time) is kept for :func:`line`."""
    times, cpus, out = [], [], None
    for _ in range(repeat):
        c = time.thread_time()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.thread_time() - c)
    _last_cpu[0] = min(cpus)
    return min(times), out


def line(
    label: str,
    ours: float,
    anchor: float | None,
    target: float | None,
    anchor_label: str = "",
    cpu: bool = False,
) -> None:
    ratio = f"{anchor / ours:8.1f}x faster" if anchor else " " * 15
    anc = f"{anchor:9.3f} s {anchor_label}" if anchor else "      n/a"
    verdict = (
        "" if target is None else ("  PASS" if ours < target else "  FAIL") + f" (target < {target:g} s)"
    )
    cpu_note = f" [CPU {_last_cpu[0]:.3f} s]" if cpu else ""
    print(f"  {label:<38} ours {ours:8.3f} s{cpu_note} | anchor {anc:<28} | {ratio}{verdict}")


def machine() -> None:
    cpu = cpu_model()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}; load average {load}")


# ----------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--battles", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--anchor-rounds", type=int, default=3, help="per-row bootstrap rounds actually run")
    ap.add_argument("--trueskill-slice", type=int, default=20_000, help="battles replayed by the package")
    ap.add_argument("--arena-rank-python", default=str(ROOT.parent / "venvs" / "arena-rank" / "bin" / "python"))
    ap.add_argument("--arena-rank-bootstrap", type=int, default=0, help="also time its bootstrap (rounds)")
    args = ap.parse_args()
    n, m = args.battles, args.models

    machine()
    print(f"data: {n:,} synthetic battles, {m} models, 25% draws, seed 0\n")
    battles = synthetic(n, m)

    print("Bradley-Terry")
    t_ours, rows = best_of(lambda: leaderboard(battles, "bt"), args.repeat)
    cpu_ours = _last_cpu[0]
    t_anchor, theta = best_of(
        lambda: anchor_bt_per_row(battles.a.astype(np.int64), battles.b.astype(np.int64), battles.outcome, m),
        1,
    )
    t_sand = time.perf_counter()
    se = anchor_sandwich(theta, battles.a.astype(np.int64), battles.b.astype(np.int64), battles.outcome, m)
    t_anchor_total = t_anchor + time.perf_counter() - t_sand
    _last_cpu[0] = cpu_ours
    line("fit + sandwich CIs", t_ours, t_anchor_total, 1.0, "(per-row L-BFGS)", cpu=True)
    ours = {r.model: r for r in rows}  # type: ignore[union-attr]
    ref = 1000 + ELO_PER_NAT * theta
    d_rating = max(abs(ours[battles.models[i]].rating - ref[i]) for i in range(m))
    d_half = max(
        abs((ours[battles.models[i]].upper - ours[battles.models[i]].lower) / 2 - 1.959964 * se[i])
        for i in range(m)
    )
    print(
        f"  agreement with the anchor: max |rating diff| {d_rating:.2e}, max |CI half-width diff| {d_half:.2e}"
    )

    counts = aggregate(battles)
    fit = fit_bt(counts)
    t_boot, _ = best_of(lambda: bootstrap_bt(counts, rounds=args.rounds, seed=0, init=fit.theta), 1)
    t_boot_all, _ = best_of(lambda: leaderboard(battles, "bt", ci="bootstrap", rounds=args.rounds), 1)
    cpu_boot = _last_cpu[0]
    rng = np.random.default_rng(0)
    a64, b64 = battles.a.astype(np.int64), battles.b.astype(np.int64)
    t0 = time.perf_counter()
    for _ in range(args.anchor_rounds):
        idx = rng.integers(0, n, n)
        anchor_bt_per_row(a64[idx], b64[idx], battles.outcome[idx], m)
    t_anchor_boot = (time.perf_counter() - t0) / args.anchor_rounds * args.rounds
    line(
        f"{args.rounds} bootstrap rounds", t_boot, t_anchor_boot, None, f"({args.anchor_rounds} run, scaled)"
    )
    _last_cpu[0] = cpu_boot
    line(f"leaderboard, --ci bootstrap {args.rounds}", t_boot_all, None, 10.0, cpu=True)

    print("\nWhole process: imagearena rate battles.csv --method bt --format json")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "battles.csv"
        write_csv(battles, csv_path)
        size_mb = csv_path.stat().st_size / 1e6
        exe = [
            sys.executable,
            "-m",
            "imagearena",
            "rate",
            str(csv_path),
            "--method",
            "bt",
            "--format",
            "json",
        ]
        runs = [_timed_cpu(exe) for _ in range(args.repeat)]
        t_proc, cpu_proc = min(runs)
        t_start = min(_timed([sys.executable, "-m", "imagearena", "--help"]) for _ in range(args.repeat))
        _last_cpu[0] = cpu_proc
        line(f"CSV {size_mb:.0f} MB, start-up to output", t_proc, None, 1.5, cpu=True)
        print(
            f"  (interpreter + CLI start-up {t_start:.3f} s; "
            f"median wall {statistics.median(r[0] for r in runs):.3f} s)"
        )
        for method in ("elo", "trueskill"):
            t, _last_cpu[0] = _timed_cpu([*exe[:6], method, "--format", "json"])
            line(f"  same file, --method {method}", t, None, None, cpu=True)
        _arena_rank(args, csv_path, ours, t_proc)

    print("\nOnline replays")
    t_elo, elo = best_of(lambda: online_elo(battles), args.repeat)
    cpu_elo = _last_cpu[0]
    names = np.array(battles.models)
    records = list(
        zip(
            names[battles.a].tolist(),
            names[battles.b].tolist(),
            np.array(WINNERS)[battles.outcome].tolist(),
            strict=True,
        )
    )
    t_elo_anchor, ref_elo = best_of(lambda: anchor_elo(records), 1)
    _last_cpu[0] = cpu_elo
    line("Elo, 1 replay", t_elo, t_elo_anchor, 2.0, "(per-row dict loop)", cpu=True)
    d = max(abs(elo[i] - ref_elo[battles.models[i]]) for i in range(m))  # type: ignore[index]
    print(f"  agreement: max |rating diff| {d:.2e}")
    t_ts, (mu, sigma) = best_of(lambda: replay_trueskill(battles), args.repeat)  # type: ignore[misc]
    cpu_ts = _last_cpu[0]
    t_slice, pkg = _trueskill_package(battles, args.trueskill_slice)
    t_pkg = t_slice * n / args.trueskill_slice
    _last_cpu[0] = cpu_ts
    line("TrueSkill, 1 replay", t_ts, t_pkg, 2.0, f"(package, {args.trueskill_slice:,} scaled)", cpu=True)
    k = args.trueskill_slice
    mu_k, sigma_k = replay_trueskill(
        Battles(battles.models, battles.a[:k], battles.b[:k], battles.outcome[:k])
    )
    d = max(
        max(abs(mu_k[i] - pkg[x].mu), abs(sigma_k[i] - pkg[x].sigma)) for i, x in enumerate(battles.models)
    )
    print(f"  agreement with the package on the first {k:,} battles: max |mu or sigma diff| {d:.2e}")

    print("\nMemory beyond the input arrays (tracemalloc peak of numpy and Python allocations)")
    for size in (n // 4, n):
        sub = synthetic(size, m, seed=1)
        peaks = []
        for fn in (
            lambda: leaderboard(sub, "bt"),  # noqa: B023
            lambda: leaderboard(sub, "bt", ci="bootstrap", rounds=10),  # noqa: B023
        ):
            tracemalloc.start()
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
            tracemalloc.stop()
        in_mb = (sub.a.nbytes + sub.b.nbytes + sub.outcome.nbytes + sub.tstamp.nbytes) / 1e6  # type: ignore[union-attr]
        print(
            f"  {size:>9,} battles (inputs {in_mb:6.1f} MB): bt sandwich peak {peaks[0]:6.1f} MB, "
            f"bt bootstrap peak {peaks[1]:6.1f} MB"
        )
    for size in (n // 20, n // 5):
        sub = synthetic(size, m, seed=1)
        sub = Battles(sub.models, sub.a, sub.b, sub.outcome)  # no tstamp: no order index either
        peaks = []
        for fn in (lambda: online_elo(sub), lambda: replay_trueskill(sub)):  # noqa: B023
            tracemalloc.start()
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
            tracemalloc.stop()
        print(
            f"  {size:>9,} battles: Elo replay peak {peaks[0]:6.1f} MB, TrueSkill replay peak {peaks[1]:6.1f} MB"
        )
    print("\nThe machine may be shared with other work while measuring; figures are best of --repeat runs.")


def _timed_cpu(cmd: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of a child process: CPU time is what a busy machine
    does not inflate."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _timed(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t


def _trueskill_package(battles: Battles, count: int) -> tuple[float, dict]:  # type: ignore[type-arg]
    import trueskill

    env = trueskill.TrueSkill()
    r = {x: env.create_rating() for x in battles.models}
    a, b, o = battles.a[:count].tolist(), battles.b[:count].tolist(), battles.outcome[:count].tolist()
    names = battles.models
    t = time.perf_counter()
    for i, j, w in zip(a, b, o, strict=True):
        x, y = names[i], names[j]
        if w == 1:
            r[y], r[x] = trueskill.rate_1vs1(r[y], r[x], env=env)
        else:
            r[x], r[y] = trueskill.rate_1vs1(r[x], r[y], drawn=w >= 2, env=env)
    return time.perf_counter() - t, r


def _arena_rank(args: argparse.Namespace, csv_path: Path, ours: dict, t_ours: float) -> None:  # type: ignore[type-arg]
    py = Path(args.arena_rank_python)
    if not py.exists():
        print(
            f"  arena-rank: not installed at {py} (python -m venv ../venvs/arena-rank && ../venvs/arena-rank/bin/pip install arena-rank)"
        )
        return
    cmd = [str(py), "-c", ARENA_RANK_SCRIPT, str(csv_path)]
    if args.arena_rank_bootstrap:
        cmd.append(str(args.arena_rank_bootstrap))
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    total = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"  arena-rank failed: {proc.stderr.strip().splitlines()[-1:]}")
        return
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  arena-rank whole process {total:.3f} s (import {res['import_s']:.2f}, pandas read {res['read_s']:.2f}, "
        f"dataset {res['dataset_s']:.2f}, fit + sandwich {res['fit_sandwich_s']:.2f})"
    )
    line("  vs arena-rank, whole process", t_ours, total, None, "(arena-rank)")
    r = np.array(res["ratings"])
    r = r - r.mean() + 1000
    d = max(abs(ours[c].rating - x) for c, x in zip(res["competitors"], r, strict=True))
    half = np.array(res["upper"]) - np.array(res["lower"])
    dh = max(
        abs((ours[c].upper - ours[c].lower) - h) / 2 for c, h in zip(res["competitors"], half, strict=True)
    )
    print(
        f"  agreement with arena-rank (centred): max |rating diff| {d:.2e}, max |CI half-width diff| {dh:.2e}"
    )
    if "bootstrap_s" in res:
        print(f"  arena-rank bootstrap {args.arena_rank_bootstrap} rounds: {res['bootstrap_s']:.2f} s")


if __name__ == "__main__":
    main()
