"""Reading a battle log: the whole `imagearena rate battles.csv --method bt` process beside what it cannot
avoid, printed side by side as a ratio, with its peak memory.

Anchor: interpreter start + CLI import + the imports the parse and the fit cannot run without (one
process, `python -c "import imagearena.cli, pyarrow.csv, imagearena.ratings"`: pyarrow brings numpy) +
pyarrow's own parse of the same file (`pyarrow.csv.read_csv(path)`, default options) + the fit
(`leaderboard(battles, "bt")`), each timed on its first call in a process that has already imported
them, as the command makes each call once. Their imports are counted once, in the first term. For
reference the ratio is printed against the same anchor with warm (best of later calls) parse and fit,
and against the anchor this script used before: start + CLI import + warm parse + warm fit, short by
about 0.17 s of CPU (the imports) that no process reading a CSV with pyarrow can skip.
Targets: the whole process within 1.5x the anchor; its peak RSS no higher than 146 MB (142,578 KiB;
148,100 KiB was the peak before the pyarrow reader, the hand-written CSV parser at commit d91f62b).

Another ratio puts the command's fixed cost in the anchor instead of the CLI import: the same command
on the first 1,000 rows (same models, so the same imports, option parsing and table), plus the warm
parse and fit. It shows what a million rows cost beyond pyarrow's parse.

The script writes its own log: --rows battles among --models models named m000, m001, ... (uniform
random pairs, Bradley-Terry outcomes with 25% draws, seed 0), columns model_a,model_b,winner: 17.6 MB
for a million rows. Each measurement is a fresh process, best wall time and best CPU time (user +
system, from os.wait4) of --repeat runs, and the largest peak RSS. Under load, compare CPU times. The
children read compiled bytecode as an installed package does (kept under --work, or a temporary
folder, when the environment sets PYTHONDONTWRITEBYTECODE).

Usage:  .venv/bin/python benchmarks/bench_battlelog.py [--rows 1000000] [--models 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
WINNERS = ("model_a", "model_b", "tie", "both_bad")
#: Peak RSS of the whole `rate --method bt` process on the 1M-row file before the pyarrow reader.
RSS_BEFORE_KIB = 148_100
#: The target: 146 MB.
RSS_TARGET_KIB = 146_000_000 // 1024
#: What the parse and the fit import before they run (pyarrow imports numpy).
WORK_IMPORTS = "import imagearena.cli, pyarrow.csv, imagearena.ratings"
TARGET_RATIO = 1.5
#: Rows of the small log (the same models): the whole process on it is the command's fixed cost.
SMALL_ROWS = 1_000

#: Run in a child: pyarrow's parse of the file, our reader and the BT fit, each timed on its first call in
#: the process (as the command runs it) and then best of N (warm), as JSON.
COMPONENTS = """
import json, sys, time
import pyarrow.csv
from imagearena.battlelog import read_battles
from imagearena.ratings import leaderboard

path, repeat = sys.argv[1], int(sys.argv[2])

def once(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c

def best(fn):
    return min(once(fn) for _ in range(repeat))

out = {"parse_first": once(lambda: pyarrow.csv.read_csv(path))}
out["parse"] = best(lambda: pyarrow.csv.read_csv(path))
out["ours_first"] = once(lambda: read_battles(path, tstamps=False))
out["ours"] = best(lambda: read_battles(path, tstamps=False))
battles = read_battles(path, tstamps=False)
out["fit_first"] = once(lambda: leaderboard(battles, "bt"))
out["fit"] = best(lambda: leaderboard(battles, "bt"))
print(json.dumps(out))
"""


@dataclass
class Run:
    wall: float
    cpu: float
    rss_kib: int


def write_log(path: Path, rows: int, models: int, seed: int = 0) -> None:
    """Uniform random pairs, Bradley-Terry outcomes from N(0, 200) Elo strengths, 25% draws.

    Runs in a child process (``--write-log``) so that this one stays small: a child's peak RSS
    counts the parent's pages at the fork.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    names = np.array([f"m{i:03d}" for i in range(models)])
    winners = np.array(WINNERS)
    strength = rng.normal(0, 200, models)
    a = rng.integers(0, models, rows)
    b = (a + rng.integers(1, models, rows)) % models
    p_a = 1 / (1 + 10 ** ((strength[b] - strength[a]) / 400))
    draw = rng.random(rows) < 0.25
    outcome = np.where(draw, rng.integers(2, 4, rows), (rng.random(rows) > p_a).astype(np.int64))
    with path.open("w") as f:
        f.write("model_a,model_b,winner\n")
        step = 200_000
        for s in range(0, rows, step):
            sl = slice(s, s + step)
            cols = zip(names[a[sl]], names[b[sl]], winners[outcome[sl]], strict=True)
            f.write("".join(f"{x},{y},{w}\n" for x, y, w in cols))


def run_once(cmd: list[str]) -> tuple[Run, str]:
    """One child process: wall time, CPU time and peak RSS (from wait4), and its stdout."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss), out


def best_run(cmd: list[str], repeat: int) -> Run:
    """Best wall and best CPU over ``repeat`` runs; the largest peak RSS (memory is not luck)."""
    runs = [run_once(cmd)[0] for _ in range(repeat)]
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.rss_kib for r in runs))


def machine() -> str:
    cpu = cpu_model()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    versions = ", ".join(f"{p} {version(p)}" for p in ("numpy", "pyarrow", "typer", "rich"))
    return (
        f"machine: {cpu}, {os.cpu_count()} cores; python {platform.python_version()}, {versions}; load {load}"
    )


def row(label: str, wall: float, cpu: float | None = None, rss_kib: int | None = None) -> None:
    cpu_text = f"[CPU {cpu:6.3f} s]" if cpu is not None else " " * 16
    rss_text = f"peak RSS {rss_kib / 1024:6.1f} MiB" if rss_kib is not None else ""
    print(f"  {label:<66} {wall:7.3f} s {cpu_text}  {rss_text}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, default=None, help="Folder for the logs (default: a temporary one).")
    ap.add_argument("--write-log", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_log:
        write_log(args.write_log, args.rows, args.models)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log = work / f"battles-{args.rows}-{args.models}.csv"
        if not log.exists():
            cmd = [sys.executable, __file__, "--write-log", str(log), "--rows", str(args.rows)]
            subprocess.run([*cmd, "--models", str(args.models)], check=True)
        small = work / f"battles-{SMALL_ROWS}-{args.models}.csv"
        with log.open() as src:
            small.write_text("".join(itertools.islice(src, SMALL_ROWS + 1)))
        cache_bytecode(work / "pycache", small)
        print(machine())
        print(f"log: {args.rows:,} rows, {log.stat().st_size / 1e6:.1f} MB, {args.models} models")
        print(f"best wall time of {args.repeat} fresh processes each; CPU = user + system of that process\n")
        measure(log, small, args.repeat)


def cache_bytecode(folder: Path, small: Path) -> None:
    """The children read compiled bytecode, as an installed package does, even where the environment
    turns bytecode writing off (PYTHONDONTWRITEBYTECODE): it goes to ``folder``, outside the source tree,
    and one warm-up run of each measured command fills it before anything is timed."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)
    for cmd in (["-c", WORK_IMPORTS], ["-m", "imagearena", "rate", str(small), "--method", "bt"]):
        subprocess.run([sys.executable, *cmd], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def measure(log: Path, small: Path, repeat: int) -> None:
    py = sys.executable
    start = best_run([py, "-c", "pass"], repeat)
    cli_import = best_run([py, "-c", "import imagearena.cli"], repeat)
    imports = best_run([py, "-c", WORK_IMPORTS], repeat)
    cli_noop = best_run([py, "-m", "imagearena", "version"], repeat)
    parts = [json.loads(run_once([py, "-c", COMPONENTS, str(log), str(repeat)])[1]) for _ in range(repeat)]
    # first calls: the best of `repeat` fresh processes, wall and CPU each; warm: best of all
    step = {k: (min(p[k][0] for p in parts), min(p[k][1] for p in parts)) for k in parts[0]}
    parse, fit = step["parse_first"], step["fit_first"]
    fixed = best_run([py, "-m", "imagearena", "rate", str(small), "--method", "bt"], repeat)
    whole = best_run([py, "-m", "imagearena", "rate", str(log), "--method", "bt"], repeat)

    print("anchor")
    row("interpreter start (python -c pass)", start.wall, start.cpu, start.rss_kib)
    row("interpreter start + CLI import (python -c 'import imagearena.cli')", cli_import.wall, cli_import.cpu)
    row("start + CLI import + imports of pyarrow.csv, numpy, ratings", imports.wall, imports.cpu)
    row("pyarrow.csv.read_csv(log), default options, first call in a process", *parse)
    row("leaderboard(battles, 'bt'), first call in a process", *fit)
    anchor = (imports.wall + parse[0] + fit[0], imports.cpu + parse[1] + fit[1])
    row("anchor: start + CLI import + the imports + pyarrow parse + fit", *anchor)
    print("for reference")
    row("pyarrow.csv.read_csv(log), warm (best of the later calls)", *step["parse"])
    row("leaderboard(battles, 'bt'), warm", *step["fit"])
    warm_parse, warm_fit = step["parse"], step["fit"]
    warm = (imports.wall + warm_parse[0] + warm_fit[0], imports.cpu + warm_parse[1] + warm_fit[1])
    row("the anchor with warm parse and fit", *warm)
    short = (cli_import.wall + warm_parse[0] + warm_fit[0], cli_import.cpu + warm_parse[1] + warm_fit[1])
    row("the previous anchor: start + CLI import + warm parse + warm fit", *short)
    row("read_battles(log), the reader `rate` uses, after pyarrow's first parse", *step["ours_first"])
    row("read_battles(log), warm", *step["ours"])
    row("whole process `imagearena version` (start, import, option parsing)", cli_noop.wall, cli_noop.cpu)
    small_label = f"whole process `imagearena rate` on the first {SMALL_ROWS:,} rows (fixed cost)"
    row(small_label, fixed.wall, fixed.cpu, fixed.rss_kib)
    print("measured")
    row("whole process `imagearena rate LOG --method bt`", whole.wall, whole.cpu, whole.rss_kib)

    ratio = (whole.wall / anchor[0], whole.cpu / anchor[1])
    wall_verdict, cpu_verdict = ("PASS" if r <= TARGET_RATIO else "FAIL" for r in ratio)
    print(
        f"\nratio whole / anchor: {ratio[0]:.2f}x wall, {ratio[1]:.2f}x CPU (target <= {TARGET_RATIO}x): "
        f"{wall_verdict} on wall time, {cpu_verdict} on CPU time"
    )
    print(
        f"ratio whole / the anchor with warm parse and fit: {whole.wall / warm[0]:.2f}x wall, "
        f"{whole.cpu / warm[1]:.2f}x CPU; / the previous anchor: {whole.wall / short[0]:.2f}x wall, "
        f"{whole.cpu / short[1]:.2f}x CPU"
    )
    fair = (fixed.wall + warm_parse[0] + warm_fit[0], fixed.cpu + warm_parse[1] + warm_fit[1])
    print(
        f"ratio whole / (fixed cost + warm pyarrow parse + warm fit): {whole.wall / fair[0]:.2f}x wall, "
        f"{whole.cpu / fair[1]:.2f}x CPU (what a million rows cost beyond pyarrow's parse)"
    )
    rss_ratio = whole.rss_kib / RSS_TARGET_KIB
    print(
        f"peak RSS: {whole.rss_kib:,} KiB vs the 146 MB target ({RSS_TARGET_KIB:,} KiB): {rss_ratio:.2f}x "
        f"({'PASS' if rss_ratio <= 1 else 'FAIL'}); {whole.rss_kib / RSS_BEFORE_KIB:.2f}x the "
        f"{RSS_BEFORE_KIB:,} KiB before the pyarrow reader"
    )
    print("The machine may be shared with other work: when wall times jump, compare CPU times.")


if __name__ == "__main__":
    main()
