"""The anchor of bench_imagereward.py: the original image-reward 1.5 package's ``score()`` loop.

Runs in the original's own environment (see tests/scorers/golden/make_imagereward_golden.py for how to build
it), never in imagearena's. It builds the full-size original model (ViT-L/16 @ 224 + BERT-base text encoder)
with random weights, saves them in the official format so imagearena can load the very same weights, then
times ``model.score(prompt, path)`` once per image, the way the package's users call it: one timed loop per
``score`` (or ``no_grad``) line on stdin, one JSON line per loop on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import types
from pathlib import Path


def import_original():
    """ImageReward's model module without its package __init__ (which imports clip, diffusers, datasets)."""
    import importlib.util

    spec = importlib.util.find_spec("ImageReward")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("image-reward 1.5 is not installed in this environment")
    root = Path(spec.submodule_search_locations[0])
    for name, path in (("ImageReward", root), ("ImageReward.models", root / "models")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    import ImageReward.ImageReward as ir
    import ImageReward.models.BLIP.blip_pretrain as bp

    return ir, bp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True, help="folder to write ImageReward.pt into")
    parser.add_argument("--med-config", type=Path, required=True)
    parser.add_argument("--vocab", type=Path, required=True)
    parser.add_argument("--inputs", type=Path, required=True, help="JSON list of [prompt, image path]")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import BertTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ir, bp = import_original()

    def local_tokenizer():  # the original's init_tokenizer, reading bert-base-uncased from a folder
        tok = BertTokenizer.from_pretrained(str(args.vocab))
        tok.add_special_tokens({"bos_token": "[DEC]"})
        tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
        tok.enc_token_id = tok.additional_special_tokens_ids[0]
        return tok

    bp.init_tokenizer = local_tokenizer
    model = ir.ImageReward(med_config=str(args.med_config), device="cpu").eval()
    with torch.no_grad():  # random weights, with a head whose output varies between images
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.02)
            elif name.startswith("mlp.") and p.dim() == 2:
                p.normal_(0, p.shape[1] ** -0.5)
    torch.save(model.state_dict(), args.dir / "ImageReward.pt")

    pairs = json.loads(args.inputs.read_text())
    for prompt, path in pairs[: args.warmup]:
        model.score(prompt, path)
    reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})
    # One timed loop per command on stdin, so the caller can interleave its own runs under the same load.
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        no_grad = command == "no_grad"
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            start = time.perf_counter()
            scores = [model.score(prompt, path) for prompt, path in pairs]
            seconds = time.perf_counter() - start
        reply({"scores": scores, "seconds": seconds, "no_grad": no_grad})


def reply(message: dict) -> None:
    print(json.dumps(message), flush=True)


if __name__ == "__main__":
    main()
