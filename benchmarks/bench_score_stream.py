"""Streaming scoring benchmark: does decoding overlap compute, and does memory stay flat?

Writes N small JPEG files, builds a random-weight CLIP vision tower + aesthetic head saved in the
official formats (no download), then scores the files with ``imagearena.scorers.io.score_stream``:

1. throughput with decoding in a thread pool overlapping the model (``--workers``) against the
   serial baseline that decodes each batch and then scores it (``workers=0``), same torch threads;
2. peak RSS of a fresh process streaming 1k, 5k and 10k images, against the anchor of a naive
   script that decodes every image into a list before scoring;
3. (``--simulate-ms``) serial against overlapped when the forward pass is replaced by a wait, as on
   an accelerator that leaves the CPU free: on a machine without a GPU this is what shows whether
   decoding fills the model's time.

    .venv/bin/python benchmarks/bench_score_stream.py                 # 10,000 images
    .venv/bin/python benchmarks/bench_score_stream.py --images 2000 --counts 500,1000,2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    paths = []
    for i in range(n):
        path = folder / f"{i:06d}.jpg"
        if not path.exists():
            shifted = np.roll(base, i % size, axis=1) ^ np.uint8(i % 251)
            Image.fromarray(shifted).save(path, quality=90)
        paths.append(path)
    return paths


def make_model(folder: Path, width: int, layers: int) -> tuple[Path, Path]:
    """A random-weight CLIP (save_pretrained folder) and an aesthetic head (.pth state dict)."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    clip_dir, head_file = folder / "clip", folder / "sac+logos+ava1-l14-linearMSE.pth"
    if not clip_dir.exists():
        torch.manual_seed(0)
        config = CLIPConfig(
            projection_dim=64,
            text_config={
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
            },
            vision_config={
                "hidden_size": width,
                "intermediate_size": 4 * width,
                "num_hidden_layers": layers,
                "num_attention_heads": max(1, width // 64),
                "image_size": 224,
                "patch_size": 32,
            },
        )
        CLIPModel(config).save_pretrained(clip_dir)
        dims = [64, 1024, 128, 64, 16, 1]
        state = {}
        for index, (i, o) in zip((0, 2, 4, 6, 7), zip(dims, dims[1:], strict=False), strict=True):
            layer = torch.nn.Linear(i, o)
            state[f"layers.{index}.weight"], state[f"layers.{index}.bias"] = (
                layer.weight.data,
                layer.bias.data,
            )
        torch.save(state, head_file)
    return clip_dir, head_file


class SimulatedAccelerator:
    """The real scorer's preprocessing, with the forward pass replaced by a wait of ``ms`` per image.

    A GPU forward pass leaves the CPU idle; on this CPU-only, shared machine a wait is the honest
    stand-in for it, so the run shows whether decoding fills that idle time."""

    def __init__(self, scorer, ms: float) -> None:
        self.inner, self.ms, self.name = scorer, ms, scorer.name

    def prepare_image(self, image):
        return self.inner.prepare_image(image)

    def score(self, prompts, images):
        from imagearena.scorers.hf_clip import pixel_batch

        pixel_batch(images, self.inner.spec, "cpu", self.inner.dtype)  # the real batching work
        time.sleep(self.ms * len(images) / 1000)
        return [0.0] * len(images)


def child(args: argparse.Namespace) -> None:
    """One measured run in a fresh process: print images/s and peak RSS as JSON."""
    import torch

    from imagearena.scorers import create_scorer
    from imagearena.scorers.io import ScoreItem, decode_image, score_stream

    torch.set_num_threads(args.torch_threads)
    work = Path(args.work)
    clip_dir, head = make_model(work, args.width, args.layers)
    paths = sorted((work / "images").glob("*.jpg"))[: args.count]
    scorer = create_scorer(
        "aesthetic", weights=str(head), clip=str(clip_dir), device=args.device, batch_size=args.batch_size
    )
    scorer.score("warm-up", [decode_image(paths[0])] * 2)
    if args.simulate_ms > 0:
        scorer = SimulatedAccelerator(scorer, args.simulate_ms)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    if args.mode == "naive":  # decode everything first, as a simple script would
        images = [decode_image(p) for p in paths]
        scores = scorer.score("x", images)
        n = len(scores)
    else:
        items = (ScoreItem(p, "x") for p in paths)
        workers = 0 if args.mode == "serial" else args.workers
        n = sum(1 for r in score_stream(scorer, items, batch_size=args.batch_size, workers=workers) if r.ok)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cores = (usage.ru_utime + usage.ru_stime - cpu_before) / elapsed
    result = {"n": n, "seconds": elapsed, "ips": n / elapsed, "cores": cores}
    print(json.dumps(result | {"peak_mib": usage.ru_maxrss / 1024, "base_mib": rss_before / 1024}))


def run_child(args: argparse.Namespace, mode: str, count: int) -> dict:
    cmd = [sys.executable, __file__, "--child", "--mode", mode, "--count", str(count), "--work", args.work]
    for opt in ("width", "layers", "batch_size", "workers", "torch_threads", "device", "simulate_ms"):
        cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--counts", default="1000,5000,10000", help="image counts for the peak-RSS table")
    parser.add_argument("--size", type=int, default=192, help="side of the generated JPEGs")
    parser.add_argument("--width", type=int, default=192, help="vision tower width")
    parser.add_argument("--layers", type=int, default=2, help="vision tower depth")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="decoder threads in the overlapped run")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads, the same in every run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--simulate-ms",
        type=float,
        default=2.0,
        help="also compare serial and overlapped with the forward pass replaced by this wait per image "
        "(an accelerator's share of the time; 0 skips it)",
    )
    parser.add_argument("--work", default=None, help="folder for images and weights (default: a temp dir)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="overlap", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    tmp = tempfile.TemporaryDirectory(prefix="bench-score-") if args.work is None else None
    args.work = args.work or tmp.name  # type: ignore[union-attr]
    (Path(args.work) / "images").mkdir(parents=True, exist_ok=True)
    counts = [int(c) for c in args.counts.split(",")]
    total = max([args.images, *counts])
    t0 = time.perf_counter()
    make_images(Path(args.work) / "images", total, args.size)
    make_model(Path(args.work), args.width, args.layers)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(
        f"setup: {total} JPEGs {args.size}x{args.size}, random CLIP vision width {args.width} x {args.layers} layers "
        f"+ aesthetic head, batch {args.batch_size}, torch threads {args.torch_threads}, device {args.device} "
        f"({time.perf_counter() - t0:.0f}s)"
    )

    if args.simulate_ms > 0:
        sim = argparse.Namespace(**vars(args))
        n_sim = min(args.images, 3000)
        serial = run_child(sim, "serial", n_sim)
        overlap = run_child(sim, "overlap", n_sim)
        print(
            f"\nsimulated accelerator ({args.simulate_ms:g} ms per image, CPU idle meanwhile), {n_sim} images"
        )
        print(
            f"  decode-then-score serial (anchor): {serial['ips']:8.1f} images/s, {serial['cores']:.2f} cores busy"
        )
        print(
            f"  decode overlapping compute ({args.workers} threads): {overlap['ips']:8.1f} images/s, "
            f"{overlap['cores']:.2f} cores busy   ratio {overlap['ips'] / serial['ips']:.2f}x"
        )
    args.simulate_ms = 0.0
    serial = run_child(args, "serial", args.images)
    overlap = run_child(args, "overlap", args.images)
    print(f"\nthroughput on {args.images} images")
    print(
        f"  decode-then-score serial (anchor): {serial['ips']:8.1f} images/s, {serial['cores']:.2f} cores busy"
    )
    print(
        f"  decode overlapping compute ({args.workers} threads): {overlap['ips']:8.1f} images/s, "
        f"{overlap['cores']:.2f} cores busy   ratio {overlap['ips'] / serial['ips']:.2f}x"
    )
    print(
        f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: overlapping needs a free core)"
    )

    print("\npeak RSS (MiB) of a fresh process by image count")
    print(f"  {'images':>8} {'streamed':>10} {'naive list (anchor)':>20} {'ratio':>7}")
    for count in counts:
        s = run_child(args, "overlap", count)
        n = run_child(args, "naive", count)
        print(
            f"  {count:>8} {s['peak_mib']:>10.0f} {n['peak_mib']:>20.0f} {s['peak_mib'] / n['peak_mib']:>7.2f}"
        )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
