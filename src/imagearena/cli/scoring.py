"""CLI commands: `imagearena score` and `imagearena scorers`. torch and the models load inside the command."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from imagearena.cli.app import ReportFormat, app, console, transient_bar
from imagearena.errors import InputError
from imagearena.types import CombiningScorer, Scorer

if TYPE_CHECKING:
    from imagearena.scorers.io import Scored, ScoreItem

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
PROGRESS_MIN_ITEMS = 32  # below this a run is short enough without a bar


class NormalizeChoice(StrEnum):
    auto = "auto"
    reference = "reference"
    batch = "batch"
    rank = "rank"


def per_scorer(value: str | None, names: Sequence[str], option: str) -> dict[str, dict[str, str]]:
    """``--weights SRC`` (one scorer) or ``--weights name=SRC,name=SRC`` -> {name: {key: SRC}}."""
    if value is None:
        return {}
    key = option.lstrip("-")
    pieces = value.split(",")
    if all(p.partition("=")[0].strip() in names and "=" in p for p in pieces):
        return {p.partition("=")[0].strip(): {key: p.partition("=")[2].strip()} for p in pieces}
    if len(names) != 1:
        raise InputError(
            f"with several scorers write {option} NAME=SRC[,NAME=SRC...], for example {option} clip=./my-clip"
        )
    return {names[0]: {key: value}}


def expand_images(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder contributes its image files, sorted by name."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            )
        else:
            out.append(path)
    return out


def read_jsonl(path: Path, default_prompt: str | None) -> list[ScoreItem]:
    """``{"image": PATH, "prompt": TEXT}`` per line; relative paths are relative to the file's folder."""
    from imagearena.scorers.io import ScoreItem

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("image"), str):
            raise InputError(f'{path}:{number}: expected {{"image": PATH, "prompt": TEXT}}')
        prompt = row.get("prompt", default_prompt)
        if not isinstance(prompt, str):
            raise InputError(f"{path}:{number}: no prompt (give one per line, or --prompt for all)")
        image = Path(row["image"]).expanduser()
        if not image.is_absolute():
            image = path.parent / image
        items.append(ScoreItem(image=image, prompt=prompt, key=row["image"]))
    if not items:
        raise InputError(f"{path} has no rows")
    return items


def rank_within_prompt(rows: Sequence[Scored]) -> dict[int, int]:
    """Row index -> rank among rows with the same prompt (1 = best; ties share the better rank)."""
    groups: dict[str, list[Scored]] = {}
    for r in rows:
        groups.setdefault(r.item.prompt, []).append(r)
    ranks: dict[int, int] = {}
    for group in groups.values():
        group.sort(key=lambda r: -float(r.score or 0.0))
        for position, r in enumerate(group, 1):
            same = position > 1 and r.score == group[position - 2].score
            ranks[r.index] = ranks[group[position - 2].index] if same else position
    return ranks


def result_rows(results: Sequence[Scored], min_score: float | None) -> list[dict[str, Any]]:
    scored = [r for r in results if r.ok]
    ranks = rank_within_prompt(scored)
    rows = []
    for r in scored:
        if min_score is not None and (r.score is None or r.score < min_score):
            continue
        rows.append(
            {
                "image": str(r.item.key),
                "prompt": r.item.prompt,
                "score": r.score,
                "components": r.components,
                "rank": ranks[r.index],
            }
        )
    return rows


def print_rows(rows: list[dict[str, Any]], fmt: ReportFormat, components: Sequence[str]) -> None:
    if fmt is ReportFormat.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    show_components = len(components) > 1
    if fmt is ReportFormat.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["image", "prompt", "score", "rank", *(components if show_components else [])])
        for row in rows:
            extra = [row["components"].get(c) for c in components] if show_components else []
            writer.writerow([row["image"], row["prompt"], row["score"], row["rank"], *extra])
        return
    from rich.table import Table

    table = Table()
    for column, justify in (("Image", "left"), ("Prompt", "left"), ("Score", "right"), ("Rank", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in components if show_components else []:
        table.add_column(c, justify="right")
    for row in rows:
        extra = [f"{row['components'][c]:.4f}" for c in components] if show_components else []
        table.add_row(row["image"], row["prompt"], f"{row['score']:.4f}", str(row["rank"]), *extra)
    console().print(table)


@contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A transient bar on stderr for runs of PROGRESS_MIN_ITEMS images or more: call the function it
    gives with (images scored so far, images to score)."""
    from rich.progress import Progress, TaskID

    bar: tuple[Progress, TaskID] | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            progress = transient_bar("Scoring", disable=total < PROGRESS_MIN_ITEMS)
            progress.start()
            bar = progress, progress.add_task("score", total=total)
        bar[0].update(bar[1], completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar[0].stop()


def score_files(scorer: Scorer, items: list[ScoreItem], batch_size: int, workers: int) -> list[Scored]:
    """Score with a progress bar on stderr for long runs; ensembles are combined over the whole run."""
    from imagearena.scorers.io import score_items

    with progress_bar() as show:
        done = 0

        def count(batch: list[Scored]) -> None:
            nonlocal done
            done += len(batch)
            show(done, len(items))

        show(0, len(items))
        return score_items(scorer, items, batch_size=batch_size, workers=workers, on_batch=count)


def report_failures(results: Sequence[Scored], already: int = 0) -> None:
    err = console(stderr=True)
    failed = [r for r in results if not r.ok]
    for r in failed:
        err.print(f"[yellow]skipped[/] {r.item.key}: {r.error}", highlight=False)
    scored = len(results) - len(failed)
    note = f", {already} already scored" if already else ""
    err.print(f"Scored {scored} of {len(results)} images ({len(failed)} unreadable, skipped{note}).")


@contextmanager
def warnings_on_stderr() -> Iterator[None]:
    """Our own warnings (a dtype that would be slow here) as one line each on stderr, not Python's
    two-line file:line display; any other warning is passed on unchanged."""
    from imagearena.scorers.precision import SlowDtypeWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SlowDtypeWarning)
        yield
    shown = set()
    for w in caught:
        if issubclass(w.category, SlowDtypeWarning):
            if str(w.message) not in shown:  # an ensemble's members would repeat it
                print(f"Warning: {w.message}", file=sys.stderr)
                shown.add(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def quiet_model_loading() -> None:
    """transformers' per-tensor loading bar would interleave with our output; our progress bar stays."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # the scorer itself reports the missing extra
        return
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


@app.command("score")
def score(
    images: list[Path] = typer.Argument(None, help="Image files or folders (with --prompt)."),
    scorer_spec: str = typer.Option(
        "imagereward", "--scorer", "-s", help="NAME, NAME,NAME (an ensemble) or NAME=W,NAME=W."
    ),
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="The prompt of every image."),
    input_file: Path | None = typer.Option(None, "--input", "-i", help='JSONL of {"image", "prompt"} rows.'),
    study: str | None = typer.Option(None, "--study", help="Score a study's images, stored in the database."),
    weights: str | None = typer.Option(
        None, "--weights", help="Weights: hub id or local path (NAME=SRC,...)."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="Tokenizer/processor source (NAME=SRC,...)."
    ),
    clip: str | None = typer.Option(
        None, "--clip", help="CLIP backbone of the aesthetic scorer (hub id or path)."
    ),
    ensemble_weights: str | None = typer.Option(
        None, "--ensemble-weights", help="One weight per scorer: 0.7,0.3."
    ),
    normalize: NormalizeChoice = typer.Option(
        NormalizeChoice.auto, "--normalize", help="Ensemble normalisation."
    ),
    reference_stats: Path | None = typer.Option(
        None, "--reference-stats", help="JSON {scorer: {mean, std}}."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, mps."),
    dtype: str = typer.Option(
        "auto",
        "--dtype",
        help="auto (bf16 where the hardware has it: GPUs, CPUs with AVX-512 BF16/AMX; else fp16 on GPU, "
        "fp32 on CPU), fp32, fp16, bf16.",
    ),
    batch_size: int = typer.Option(16, "--batch-size", "-b", min=1, help="Images per forward pass."),
    workers: int = typer.Option(4, "--workers", min=0, help="Decoder threads (0: decode inline)."),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="Output format."),
    min_score: float | None = typer.Option(
        None, "--min-score", help="Print only images scoring at least this."
    ),
    write_metadata: bool = typer.Option(
        False,
        "--write-metadata",
        help="Store the score in each PNG (text chunk) or a .imagearena.json sidecar.",
    ),
    db: str | None = typer.Option(None, "--db", help="Database URL for --study."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data folder for --study."),
) -> None:
    """Score (prompt, image) pairs with a reward model or an ensemble of them."""
    from imagearena.scorers.ensemble import build_scorer, parse_spec
    from imagearena.scorers.io import ScoreItem

    sources = sum(x is not None and x != [] for x in (images or None, input_file, study))
    if sources != 1:
        raise InputError("give images with --prompt, or --input FILE.jsonl, or --study NAME (exactly one)")
    if write_metadata and study:
        raise InputError(
            "--write-metadata rewrites image files; study images are content-addressed: not with --study"
        )
    from imagearena.scorers import scorers

    names = [name for name, _ in parse_spec(scorer_spec, ensemble_weights)]
    for name in names:
        scorers.factory(name)  # an unknown name fails now, listing the known ones
    options: dict[str, dict[str, str]] = {}
    for option, value in (("--weights", weights), ("--tokenizer", tokenizer)):
        for name, kw in per_scorer(value, names, option).items():
            options.setdefault(name, {}).update(kw)
    if clip is not None:
        if "aesthetic" not in names:
            raise InputError("--clip sets the aesthetic scorer's CLIP backbone: add aesthetic to --scorer")
        options.setdefault("aesthetic", {})["clip"] = clip

    if study is None:
        if input_file is not None:
            items = read_jsonl(input_file, prompt)
        else:
            if prompt is None:
                raise InputError("images need a prompt: pass --prompt TEXT, or use --input FILE.jsonl")
            files = expand_images(images)
            if not files:
                raise InputError("no image files found in the given folders")
            items = [ScoreItem(image=f, prompt=prompt, key=str(f)) for f in files]

    quiet_model_loading()
    with warnings_on_stderr():
        scorer = build_scorer(
            scorer_spec,
            ensemble_weights=ensemble_weights,
            normalize=normalize.value,
            reference_stats=reference_stats,
            options=options,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
        )
    if isinstance(scorer, CombiningScorer):
        how = {
            "reference": "z-scores against reference statistics",
            "batch": "z-scores within this run",
            "rank": "percentile ranks within this run",
        }[scorer.normalize]
        mix = " + ".join(f"{w:g} x {n}" for n, w in scorer.weights.items())
        print(f"Ensemble score: {mix}, on {how}.", file=sys.stderr)
    if study is not None:
        results, already = score_study_command(scorer, names, study, db, data_dir, batch_size, workers)
    else:
        results, already = score_files(scorer, items, batch_size, workers), 0
    if write_metadata:
        from imagearena.scorers.metadata import write_score

        for r in results:
            if r.ok:
                write_score(Path(r.item.image), scorer_spec, r.item.prompt, r.score, r.components)  # type: ignore[arg-type]
    rows = result_rows(results, min_score)
    print_rows(rows, fmt, names)
    report_failures(results, already)
    if min_score is not None:
        print(f"{len(rows)} shown with a score of at least {min_score:g}.", file=sys.stderr)


def score_study_command(
    scorer: Scorer,
    names: Sequence[str],
    study: str,
    db: str | None,
    data_dir: Path | None,
    batch_size: int,
    workers: int,
) -> tuple[list[Scored], int]:
    """Score a study's images that lack any of the scorers' values; the use case stores them."""
    from imagearena.arena.scoring import score_study
    from imagearena.cli.db import load_settings

    with progress_bar() as show:
        run = score_study(
            load_settings(db, data_dir),
            scorer,
            names,
            study,
            batch_size=batch_size,
            workers=workers,
            on_progress=show,
        )
    return run.results, run.already_scored


def first_sentence(doc: str) -> str:
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    head, sep, _ = paragraph.partition(": ")
    return head if sep and len(head) > 8 else paragraph.split(". ")[0].rstrip(".")


@app.command("scorers")
def list_scorers_command(
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """List the registered scorers (built-in and installed plug-ins)."""
    from imagearena.scorers import scorers

    rows = []
    for name in scorers.names():
        try:
            factory = scorers.factory(name)
            doc = first_sentence(sys.modules[factory.__module__].__doc__ or "")
            target = f"{factory.__module__}:{factory.__qualname__}"
        except Exception as exc:  # a broken plug-in is listed, not fatal
            doc, target = f"cannot load: {exc}", scorers._targets.get(name, "?")
        rows.append({"name": name, "backend": target, "about": doc})
    if fmt is ReportFormat.json:
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="Registered scorers")
    for column in ("Name", "Backend", "About"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["backend"], row["about"])
    console().print(table)
