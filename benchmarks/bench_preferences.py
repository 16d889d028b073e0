"""Preference-data export speed and memory: arena.preferences over a SQLite study of a million pair
votes, printed beside its anchor as ratios.

Anchor: 100,000 rows/s for Pick-a-Pic parquet with images by path (a million votes in 10 s), and memory
that stays flat: the peak resident memory of the export of N votes within 1.25x that of N / 10 votes
(each export runs in a fresh child process, which reports its own peak).

The study: 20 models x 50 prompts (one real 8 x 8 PNG per image in the media store), N human pair votes
on served matches (40% model_a, 40% model_b, 10% tie, 10% both_bad), by 997 voters. Cases: pickapic
with --images path and embed, trl with path, at N and N / 10.

Usage:  .venv/bin/python benchmarks/bench_preferences.py [--votes 1000000] [--formats pickapic:path,...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_model
from seed_votes import insert_random_votes

from imagearena.settings import Settings

ANCHOR_ROWS_S = 100_000.0
FLAT_RATIO = 1.25


def build_study(folder: Path, votes: int, models: int = 20, prompts: int = 50) -> Settings:
    from PIL import Image

    from imagearena.media import MediaStore
    from imagearena.storage import catalog, studies
    from imagearena.storage.engine import make_engine, make_sessionmaker, upgrade_database

    settings = Settings(data_dir=folder, db_url=f"sqlite:///{folder / 'bench.db'}")
    upgrade_database(settings.database_url)
    engine = make_engine(settings.database_url)
    store = MediaStore(settings.media_dir)
    rng = np.random.default_rng(5)
    with make_sessionmaker(engine)() as s:
        study = studies.get_or_create_study(s, "bench")
        ms = [catalog.get_or_create_model(s, f"model-{i:02d}") for i in range(models)]
        ps = [catalog.get_or_create_prompt(s, f"prompt {j}") for j in range(prompts)]
        images = [
            [
                catalog.add_image(
                    s, study, m, p, store.put_pil(Image.new("RGB", (8, 8), (i * 12 % 256, j * 5 % 256, 7)))
                )[0]
                for j, p in enumerate(ps)
            ]
            for i, m in enumerate(ms)
        ]
        s.commit()
        ids = [[(im.id, im.model_id, im.prompt_id) for im in row] for row in images]
        insert_random_votes(s, study.id, ids, votes, rng)
    engine.dispose()
    return settings


def _child(settings: Settings, fmt: str, images: str, out: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from imagearena.arena.preferences import export_preferences
    from imagearena.arena.runtime import Arena

    arena = Arena(settings)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    result = export_preferences(arena, "bench", fmt, Path(out), images=images)
    seconds = time.perf_counter() - t
    arena.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((result.rows, seconds, before / 1024, peak / 1024, result.path.stat().st_size / 2**20))


def run_export(
    settings: Settings, fmt: str, images: str, out: Path
) -> tuple[int, float, float, float, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(settings, fmt, images, str(out), queue))
    proc.start()
    found = queue.get()
    proc.join()
    return found  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--formats", default="pickapic:path,pickapic:embed,trl:path")
    args = parser.parse_args()
    cases = [tuple(c.split(":")) for c in args.formats.split(",")]
    print(f"machine: {cpu_model()}, Python {platform.python_version()}")
    print(
        f"anchor: {ANCHOR_ROWS_S:,.0f} rows/s; flat memory: peak at N within {FLAT_RATIO}x the peak at N/10"
    )
    with tempfile.TemporaryDirectory() as tmp:
        built = {}
        for n in (args.votes // 10, args.votes):
            t = time.perf_counter()
            built[n] = build_study(Path(tmp) / f"n{n}", n)
            print(f"built a study of {n:,} votes in {time.perf_counter() - t:.0f} s")
        print(
            f"{'case':<18} {'votes':>10} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'ratio':>6} {'base MiB':>9} {'peak MiB':>9} {'file MiB':>9}"
        )
        for fmt, images in cases:
            peaks = {}
            for n, settings in built.items():
                rows, seconds, base, peak, size = run_export(
                    settings, fmt, images, Path(tmp) / f"out-{fmt}-{images}-{n}"
                )
                rate = rows / seconds
                peaks[n] = peak
                print(
                    f"{fmt + ':' + images:<18} {n:>10,} {rows:>10,} {seconds:>8.1f} {rate:>10,.0f} "
                    f"{rate / ANCHOR_ROWS_S:>6.2f} {base:>9.0f} {peak:>9.0f} {size:>9.1f}"
                )
            small, large = peaks[args.votes // 10], peaks[args.votes]
            verdict = "flat" if large <= FLAT_RATIO * small else "NOT flat"
            print(f"  peak memory N / (N/10): {large / small:.2f} ({verdict})")


if __name__ == "__main__":
    main()
