"""Images per second of the diffusers generator, against the bare diffusers pipeline call it wraps.

    .venv/bin/python benchmarks/bench_diffusers.py                                    # tiny pipeline, CPU
    .venv/bin/python benchmarks/bench_diffusers.py --shape sd15 --size 512 --steps 20 --images 16 --batch 4
    .venv/bin/python benchmarks/bench_diffusers.py --model path/to/pipeline-folder --device cuda

A pipeline is built with random weights and saved with save_pretrained (no download): ``tiny`` (the
tests' few-thousand-parameter SD; 32 px and 4 steps by default) or ``sd15`` (Stable Diffusion 1.5's UNet, VAE and
CLIP ViT-L/14 text encoder: the compute of the real model), or ``--model`` names an existing pipeline
folder. The generator loads it through its own path (AutoPipelineForText2Image, device and dtype auto).

Anchor: the bare pipeline call on the same loaded pipeline, with the same prompts, size, steps, batch
and per-image generators, returning PIL images. The generator adds per-image CPU generators (already in
the anchor), PNG encoding and its bookkeeping; the ratio generator / bare shows that overhead (target:
at least 0.9). The timed loops alternate for --rounds rounds, so on a shared machine both see the same
load; it prints the best and median images per second and the ratio per round. It also checks that the
same seed gives byte-identical images twice, and prints the first-call load time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "generators"))  # the pipeline builder the tests use
sys.path.insert(0, str(HERE.parent / "tests"))  # and the tiny tokenizer it builds on

from machine import cpu_model  # noqa: E402

PROMPTS = [
    "a photograph of an astronaut riding a horse on the moon",
    "a red bicycle leaning against a brick wall",
    "a painting of an ocean with clouds and birds, day time",
    "portrait of an old fisherman, dramatic lighting, 85mm",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--model", help="an existing pipeline folder instead of a built one")
    parser.add_argument("--size", type=int, help="image side in pixels (default: 32 tiny, 512 sd15)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: 4 tiny, 20 sd15)")
    parser.add_argument("--images", type=int, default=8, help="images per timed loop")
    parser.add_argument("--batch", type=int, default=4, help="images per pipeline call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    size = args.size or (512 if args.shape == "sd15" else 32)
    steps = args.steps or (20 if args.shape == "sd15" else 4)

    import diffusers
    import torch
    import transformers

    # the tiny tokenizer takes 16 tokens: its truncation notices would bury the figures
    transformers.logging.set_verbosity_error()
    diffusers.logging.set_verbosity_error()

    from imagearena.generators.config import GeneratorConfig
    from imagearena.generators.diffusers_backend import _PIPELINES, DiffusersGenerator
    from imagearena.types import GenerationRequest

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-diffusers-") as tmp:
        if args.model:
            model = args.model
        else:
            from tiny_pipeline import build_tiny_sd

            started = time.perf_counter()
            model = str(build_tiny_sd(Path(tmp), shape=args.shape))
            print(f"built and saved a random {args.shape} pipeline in {time.perf_counter() - started:.1f} s")
        config = GeneratorConfig(
            name="bench",
            backend="diffusers",
            model=model,
            width=size,
            height=size,
            steps=steps,
            options={"device": args.device, "dtype": args.dtype, "batch_size": args.batch},
        )
        generator = DiffusersGenerator(config)
        started = time.perf_counter()
        first = generator.generate(GenerationRequest(PROMPTS[0], seed=0))
        load_s = time.perf_counter() - started
        [loaded] = _PIPELINES.values()
        pipeline = loaded.pipeline
        device, dtype = first[0].params["device"], first[0].params["dtype"]
        again = generator.generate(GenerationRequest(PROMPTS[0], seed=0))
        same = again[0].data == first[0].data

        def bare(prompt: str) -> int:
            made = 0
            while made < args.images:
                count = min(args.batch, args.images - made)
                gens = [torch.Generator("cpu").manual_seed(1000 + made + k) for k in range(count)]
                with torch.inference_mode():
                    images = pipeline(
                        prompt=[prompt] * count,
                        width=size,
                        height=size,
                        num_inference_steps=steps,
                        generator=gens,
                        output_type="pil",
                    ).images
                made += len(images)
            return made

        def backend(prompt: str) -> int:
            return len(generator.generate(GenerationRequest(prompt, seed=1000, n=args.images)))

        rates: dict[str, list[float]] = {"bare": [], "generator": []}
        for round_ in range(args.rounds):
            prompt = PROMPTS[round_ % len(PROMPTS)]
            for name, loop in (("bare", bare), ("generator", backend)):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                started = time.perf_counter()
                count = loop(prompt)
                rates[name].append(count / (time.perf_counter() - started))

    gpu = torch.cuda.get_device_name(0) if str(device).startswith("cuda") else None
    print(
        f"machine: {gpu or cpu_model()}; torch {torch.__version__}, Python {platform.python_version()}, "
        f"{torch.get_num_threads()} CPU threads"
    )
    print(
        f"pipeline: {type(pipeline).__name__} ({args.model or args.shape}), {size}x{size}, {steps} steps, "
        f"batch {args.batch}, {args.images} images per loop, {device} {dtype}"
    )
    print(f"first call (load + 1 image): {load_s:.2f} s; same seed, same bytes: {same}")
    best_bare, best_gen = max(rates["bare"]), max(rates["generator"])
    for name in ("bare", "generator"):
        values = rates[name]
        print(f"{name:>9}: best {max(values):.3f} images/s, median {statistics.median(values):.3f}")
    per_round = " / ".join(f"{g / b:.2f}" for g, b in zip(rates["generator"], rates["bare"], strict=True))
    print(f"generator / bare pipeline (anchor): best {best_gen / best_bare:.2f}, per round {per_round}")
    if not same:
        sys.exit("the same seed gave different bytes")


if __name__ == "__main__":
    main()
