"""Bulk-run throughput: images per second through a whole `imagearena bench` run (generate, store,
score, store), in this process and on a local Ray instance with two workers per generator and scorer.

The generators are two procedural entries (no weights), the scorer a tiny one defined here (the mean
pixel value: scoring costs next to nothing, so the figure is generation, storage and the run's own
overhead). Each run starts from an empty SQLite database. The anchor is the in-process run; the Ray
run is printed as a ratio to it, with Ray's start-up (ray.init) timed apart.

    .venv/bin/python benchmarks/bench_bulk.py                       # 24 prompts x 2 generators x 2
    .venv/bin/python benchmarks/bench_bulk.py --prompts 48 --size 512 --workers 2
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

WORDS = ["red", "blue", "green", "yellow", "purple", "orange"]
THINGS = ["circle", "square", "star", "triangle", "house", "tree"]
SCENES = ["night", "sunset", "ocean", "desert", "snow", "forest"]


class MeanPixel:
    """A tiny scorer: the image's mean value over 0..1."""

    name = "mean-pixel"

    def __init__(self, **options: object) -> None:
        pass

    def score(self, prompts, images):  # type: ignore[no-untyped-def]
        import numpy as np

        return [float(np.asarray(im.convert("RGB"), dtype=np.float32).mean() / 255) for im in images]


def prompts(n: int) -> list[str]:
    return [
        f"{1 + i % 4} {WORDS[i % len(WORDS)]} {THINGS[(i // 2) % len(THINGS)]}s at {SCENES[(i // 3) % len(SCENES)]}"
        for i in range(n)
    ]


def plan(args: argparse.Namespace, study: str):  # type: ignore[no-untyped-def]
    from imagearena.arena.bulk import BulkPrompt, make_plan
    from imagearena.generators.config import parse_entry

    size = f"{args.size}x{args.size}"
    generators = [
        parse_entry(style, {"backend": "procedural", "style": style, "size": size, "max_concurrency": 2})
        for style in ("crisp", "painterly")
    ]
    chosen = [BulkPrompt(p) for p in dict.fromkeys(prompts(args.prompts))]
    return make_plan(study, chosen, generators, [MeanPixel.name], images_per_prompt=args.n)


def one_run(args: argparse.Namespace, folder: Path, ray_address: str | None) -> tuple[float, int]:
    from imagearena.arena.bulk import run_bulk
    from imagearena.settings import Settings

    settings = Settings(data_dir=folder, db_url=f"sqlite:///{folder / 'bench.db'}")
    bulk = plan(args, "bench")
    start = time.perf_counter()
    report = run_bulk(settings, bulk, ray_address=ray_address, ray_workers=args.workers, batch_size=16)
    elapsed = time.perf_counter() - start
    if report.failures or report.generated != bulk.images or report.scored != bulk.images:
        sys.exit(f"the run did not finish: {report.failures[:3]}")
    return elapsed, bulk.images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("-n", type=int, default=2, help="images per prompt and generator")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="Ray actors per generator and scorer")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="CPUs the Ray instance gets")
    args = parser.parse_args()

    from imagearena.scorers import scorers

    scorers.register(MeanPixel.name, MeanPixel)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        local_s, images = one_run(args, Path(tmp) / "local", None)
        local = images / local_s
        print(f"in-process: {images} images in {local_s:.2f} s = {local:.1f} images/s (anchor)")

        import ray

        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        init_s = time.perf_counter() - start
        try:
            ray_s, _ = one_run(args, Path(tmp) / "ray", "auto")
        finally:
            ray.shutdown()
        remote = images / ray_s
        print(f"ray.init ({args.cpus} CPUs): {init_s:.2f} s (not counted below)")
        print(f"Ray, {args.workers} workers per generator and scorer: {images} images in {ray_s:.2f} s = "
              f"{remote:.1f} images/s, ratio to in-process {remote / local:.2f}")  # fmt: skip
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
