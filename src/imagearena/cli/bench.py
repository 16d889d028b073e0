"""CLI commands: `imagearena bench` (a bulk run: prompts x generators -> images -> scores -> an automatic
leaderboard, stored as a bulk study; or the ImageReward paper's Table 1 with --reproduce-table1 DIR) and
`imagearena validate` (the validator flow: prompts drawn per topic, a mean reward per generator).

Thin: pick the prompts and the generator entries, run imagearena.arena.bulk under a progress bar per
stage, print the leaderboard. Models, torch and Ray load inside the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from imagearena.cli.app import TABLE_FORMAT_OPTION, TableFormat, app, console, transient_bar
from imagearena.cli.db import DATA_DIR_OPTION, DB_OPTION, SKIPPED_EXIT_CODE, load_settings
from imagearena.cli.generation import GENERATORS_OPTION
from imagearena.types import RatingMethod

if TYPE_CHECKING:
    from imagearena.arena.bulk import BulkPlan, BulkReport, UnitFailure, ValidatorRow
    from imagearena.generators.config import GeneratorConfig
    from imagearena.ratings.bulk_stats import MeanCI, ScorerBoard
    from imagearena.settings import Settings

#: The ImageReward paper's Table 1 (ImageReward column): the benchmark's six models' scores.
PAPER_TABLE1 = {
    "openjourney": 0.2614,
    "sd2-1": 0.2458,
    "dalle2": 0.2114,
    "sd1-4": 0.1344,
    "vd": -0.2470,
    "cogview2": -1.2376,
}
TABLE1_STUDY = "imagereward-table1"


GENERATOR_OPTION = typer.Option(
    None, "--generator", help="Generator entry; repeat, or NAME,NAME (see `imagearena generators`)."
)
PROMPTS_OPTION = typer.Option(
    None,
    "--prompts",
    envvar="IMAGEARENA_PROMPT_SET",
    help="Prompt file (.txt, .jsonl, .csv, .tsv, .json), hf:OWNER/NAME, or a stored set's name.",
)
RETRIES_OPTION = typer.Option(2, "--retries", min=0, max=100, help="Tries again per failed unit.")
BATCH_OPTION = typer.Option(16, "--batch-size", "-b", min=1, help="Images per scorer call.")
DEVICE_OPTION = typer.Option("auto", "--device", help="Scorers' device: auto, cpu, cuda, cuda:1, mps.")
DTYPE_OPTION = typer.Option("auto", "--dtype", help="Scorers' dtype: auto, fp32, fp16, bf16.")
RAY_OPTION = typer.Option(
    None, "--ray", help="Run on this Ray cluster: auto, HOST:6379, ray://HOST:10001, or local."
)
RAY_WORKERS_OPTION = typer.Option(
    None, "--ray-workers", min=1, help="Actors per generator and per scorer (default: one per GPU, else 2)."
)


def generator_names(values: Sequence[str] | None) -> str:
    return ",".join(v for value in values or [] for v in value.split(",") if v.strip())


def scorer_options(device: str, dtype: str) -> dict[str, str]:
    """What every scorer is built with: only what the user chose (a plug-in need not take them)."""
    return {k: v for k, v in (("device", device), ("dtype", dtype)) if v != "auto"}


@contextmanager
def stage_bars() -> Iterator[Callable[[str, int, int], None]]:
    """One transient progress bar per stage (generate, then score NAME per scorer) on stderr."""
    from rich.progress import TaskID

    progress = transient_bar("{task.description}")
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = "Generating" if stage == "generate" else f"Scoring ({stage.split(' ', 1)[-1]})"
            tasks[stage] = progress.add_task(label, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        yield update


def failure_line(failure: UnitFailure) -> str:
    from imagearena.cli.generate import shorten

    what = failure.generator
    if failure.scorer:
        what = f"{failure.scorer} on {what}"
    if failure.prompt is not None:
        what += f" seed {failure.seed} {shorten(failure.prompt)!r}"
    elif failure.units > 1:
        what += f" ({failure.units} images)"
    return f"FAILED {failure.stage} {what}: {failure.message}"


def interval(m: MeanCI) -> str:
    return "" if m.lower is None or m.upper is None else f"[{m.lower:.4f}, {m.upper:.4f}]"


def board_dict(board: ScorerBoard) -> dict[str, Any]:
    def mean(m: MeanCI) -> dict[str, Any]:
        return {"mean": m.mean, "lower": m.lower, "upper": m.upper, "prompts": m.prompts, "images": m.images}

    return {
        "scorer": board.scorer,
        "generators": [{"generator": g, **mean(m)} for g, m in board.ranked],
        RatingMethod.BT.value: [
            {"generator": r.model, "rating": r.rating, "lower": r.lower, "upper": r.upper, "rank": r.rank}
            for r in board.bt
        ],
        "categories": {c: {g: mean(m) for g, m in sorted(by.items())} for c, by in board.categories.items()},
    }


def print_boards(boards: Sequence[ScorerBoard]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    for board in boards:
        bt = {r.model: r for r in board.bt}
        out.print(Text(f"{board.scorer}: mean score per generator (95% CI over prompts)"))
        table = Table()
        for column in ("Generator", "Mean", "95% CI", "Prompts", "Images", "BT", "BT 95% CI"):
            table.add_column(Text(column), justify="left" if column == "Generator" else "right")
        for generator, m in board.ranked:
            row = bt.get(generator)
            bt_ci = (
                ""
                if row is None or row.lower is None or row.upper is None
                else f"[{row.lower:.0f}, {row.upper:.0f}]"
            )
            table.add_row(
                Text(generator),
                f"{m.mean:.4f}",
                interval(m),
                str(m.prompts),
                str(m.images),
                "" if row is None else f"{row.rating:.0f}",
                bt_ci,
            )
        out.print(table)
        if board.categories:
            names = [g for g, _ in board.ranked]
            out.print(Text(f"{board.scorer}: mean score per prompt category"))
            by_category = Table()
            by_category.add_column(Text("Category"))
            for name in names:
                by_category.add_column(Text(name), justify="right")
            for category, means in board.categories.items():
                cells = [f"{means[n].mean:.4f}" if n in means else "" for n in names]
                by_category.add_row(Text(category), *cells)
            out.print(by_category)


def print_summary(report: BulkReport) -> None:
    print(
        f"Study {report.study}: generated {report.generated} (already {report.already_generated}), "
        f"scored {report.scored} (already {report.already_scored}), failed {report.failed}.",
        file=sys.stderr,
    )


def print_plan(settings: Settings, plan: BulkPlan) -> None:
    """The plan, and how much of it a previous run stored (what this one would skip)."""
    from imagearena.arena.bulk import stored_units
    from imagearena.errors import ImageArenaError

    print("\n".join(plan.describe()))
    try:
        images, scores = stored_units(settings, plan)
    except ImageArenaError as exc:  # no database yet: nothing is stored
        print(f"Already stored: nothing ({exc})")
        return
    print(f"Already stored: {images} of {plan.images} images, {scores} of {plan.scorer_calls} scores")


def run_plan(
    settings: Settings,
    plan: BulkPlan,
    *,
    retries: int,
    batch_size: int,
    options: dict[str, str],
    ray: str | None,
    ray_workers: int | None,
) -> BulkReport:
    from imagearena.arena.bulk import run_bulk

    err = console(stderr=True)
    with stage_bars() as show:

        def failed(failure: UnitFailure) -> None:
            err.print(failure_line(failure), markup=False, highlight=False)

        return run_bulk(
            settings,
            plan,
            retries=retries,
            batch_size=batch_size,
            scorer_options=options,
            ray_address=ray,
            ray_workers=ray_workers,
            on_progress=show,
            on_failure=failed,
        )


def table1_generators(root: Path) -> list[GeneratorConfig]:
    """A folder entry per model folder of ``root/generations/`` (or of ``root`` itself)."""
    from imagearena.errors import InputError
    from imagearena.generators.config import parse_entry

    folder = root / "generations" if (root / "generations").is_dir() else root
    models = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not models:
        raise InputError(f"{folder} has no model folders: expected {folder}/<model>/<prompt_id>_<k>.png")
    return [parse_entry(p.name, {"backend": "folder", "path": str(p.resolve())}) for p in models]


def images_per_prompt(configs: Sequence[GeneratorConfig]) -> int:
    """1 + the largest k among the ``<id>_<k>`` images of the model folders."""
    largest = 0
    for config in configs:
        for path in Path(str(config.options["path"])).iterdir():
            k = path.stem.rpartition("_")[2]
            if k.isdigit():
                largest = max(largest, int(k))
    return largest + 1


def reproduce_table1(
    root: Path,
    settings: Settings,
    scorer: str,
    study: str,
    *,
    batch_size: int,
    options: dict[str, str],
    ray: str | None,
    ray_workers: int | None,
    dry_run: bool,
    fmt: TableFormat,
) -> None:
    """The ImageReward paper's Table 1 protocol: per model, the mean over the benchmark's prompts of the
    mean score of that prompt's images, printed to 4 decimals beside the paper's value."""
    from imagearena.arena.bulk import BulkPrompt, make_plan
    from imagearena.errors import InputError
    from imagearena.prompts.loaders import load_prompt_set

    prompts_file = root / "benchmark-prompts.json"
    if not prompts_file.is_file():
        raise InputError(f"{prompts_file} not found: pass the ImageReward repository's benchmark/ folder")
    configs = table1_generators(root)
    prompts = [BulkPrompt(p.text) for p in load_prompt_set(prompts_file).prompts]
    plan = make_plan(
        study,
        prompts,
        configs,
        [scorer],
        images_per_prompt=images_per_prompt(configs),
        source=str(prompts_file),
    )
    if dry_run:
        print_plan(settings, plan)
        return
    report = run_plan(
        settings, plan, retries=0, batch_size=batch_size, options=options, ray=ray, ray_workers=ray_workers
    )
    print_summary(report)
    board = next((b for b in report.boards if b.scorer == scorer), None)
    rows = [] if board is None else board.ranked
    if fmt is TableFormat.json:
        listed = [
            {"model": g, "score": round(m.mean, 4), "images": m.images, "paper": PAPER_TABLE1.get(g)}
            for g, m in rows
        ]
        print(json.dumps({"scorer": scorer, "models": listed}, indent=2))
    else:
        print(f"{'model':<16} {scorer:>12} {'paper':>8} {'images':>7}")
        for generator, m in rows:
            paper = PAPER_TABLE1.get(generator)
            print(
                f"{generator:<16} {m.mean:>12.4f} {'' if paper is None else f'{paper:.4f}':>8} {m.images:>7}"
            )
    if report.failures:
        raise typer.Exit(SKIPPED_EXIT_CODE)


@app.command("bench")
def bench_command(
    study: str | None = typer.Option(None, "--study", help="The bulk study to fill (created when missing)."),
    prompts: str | None = PROMPTS_OPTION,
    column: str | None = typer.Option(None, "--column", help="Column of --prompts holding the prompt."),
    sample: int | None = typer.Option(
        None, "--sample", min=1, help="Draw N of the prompts (seeded by --seed)."
    ),
    topics: str | None = typer.Option(
        None, "--topics", help="Keep the -k prompts closest to each topic: 'a,b'."
    ),
    k: int = typer.Option(5, "--top-k", "-k", min=1, help="Prompts per topic with --topics."),
    generator: list[str] | None = GENERATOR_OPTION,
    scorer: str = typer.Option(
        "imagereward", "--scorer", "-s", help="Scorers, NAME[,NAME...]: one leaderboard each."
    ),
    n: int = typer.Option(1, "--images-per-prompt", "-n", min=1, help="Images per prompt and generator."),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the first image (image k uses S + k) and of --sample."
    ),
    retries: int = RETRIES_OPTION,
    batch_size: int = BATCH_OPTION,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan (prompts, images, scorer calls) only."
    ),
    ray: str | None = RAY_OPTION,
    ray_workers: int | None = RAY_WORKERS_OPTION,
    table1: Path | None = typer.Option(
        None, "--reproduce-table1", help="The ImageReward benchmark/ folder: its Table 1, per model."
    ),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    embedder: str | None = typer.Option(None, "--embedder", help="Embedding model for --topics."),
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    generators_file: Path | None = GENERATORS_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Benchmark generators automatically: every prompt by every generator, every image by every scorer,
    then per generator the mean score with a 95% CI (and per prompt category) and Bradley-Terry over
    per-prompt comparisons, stored as a bulk study.

    A killed run continues where it stopped: images and scores already stored are not made again. A
    failed image or score is tried --retries more times, then listed, and the run goes on. Exit status:
    0 when every unit is done, 3 when some failed, 1 when the run could not start.
    """
    from imagearena.errors import InputError

    settings = load_settings(db, data_dir)
    options = scorer_options(device, dtype)
    if table1 is not None:
        if prompts or topics or generator or sample:
            raise InputError(
                "--reproduce-table1 reads the benchmark's own prompts and model folders: drop "
                "--prompts, --topics, --sample and --generator"
            )
        reproduce_table1(
            table1,
            settings,
            scorer,
            study or TABLE1_STUDY,
            batch_size=batch_size,
            options=options,
            ray=ray,
            ray_workers=ray_workers,
            dry_run=dry_run,
            fmt=fmt,
        )
        return
    if study is None or prompts is None or not generator:
        raise InputError("pass --study NAME, --prompts SET and at least one --generator NAME")
    plan = build_plan(
        settings, study, prompts, column, generator, scorer.split(","), generators_file,
        n=n, seed=seed, sample=sample, topics=topics, k=k, embedder=embedder, device=device,
    )  # fmt: skip
    if dry_run:
        print_plan(settings, plan)
        return
    report = run_plan(
        settings,
        plan,
        retries=retries,
        batch_size=batch_size,
        options=options,
        ray=ray,
        ray_workers=ray_workers,
    )
    print_summary(report)
    if fmt is TableFormat.json:
        print(json.dumps([board_dict(b) for b in report.boards], indent=2, ensure_ascii=False))
    else:
        print_boards(report.boards)
    if report.failures:
        raise typer.Exit(SKIPPED_EXIT_CODE)


def build_plan(
    settings: Settings,
    study: str,
    prompts: str,
    column: str | None,
    generator: Sequence[str],
    scorers: Sequence[str],
    generators_file: Path | None,
    *,
    n: int,
    seed: int,
    sample: int | None,
    topics: str | None,
    k: int,
    embedder: str | None,
    device: str,
) -> BulkPlan:
    from imagearena.arena.bulk import make_plan, select_prompts
    from imagearena.cli.generate import pick_generators
    from imagearena.cli.prompts import load_set, open_index

    configs = pick_generators(generator_names(generator), generators_file or settings.generators_path)
    names = [t.strip() for t in topics.split(",")] if topics else None
    if names:
        index = open_index(
            prompts, column, "train", embedder, device, settings.database_url, settings.data_dir
        )
        prompt_set = index.prompt_set
    else:
        index, prompt_set = None, load_set(prompts, column, "train", settings)
    chosen = select_prompts(prompt_set, sample=sample, seed=seed, topics=names, k=k, index=index)
    return make_plan(
        study, chosen, configs, scorers, images_per_prompt=n, seed=seed, source=prompt_set.source
    )


@app.command("validate")
def validate_command(
    topics: str = typer.Option(..., "--topics", help="Comma-separated topics: 'cats,space travel'."),
    per_topic: int = typer.Option(2, "--per-topic", "-n", min=1, help="Prompts drawn per topic."),
    from_top: int = typer.Option(20, "--from-top", min=1, help="Draw from each topic's K closest prompts."),
    generator: list[str] | None = GENERATOR_OPTION,
    scorer: str = typer.Option(
        ..., "--scorer", "-s", help="The reward: NAME, or an ensemble NAME,NAME or NAME=W,NAME=W."
    ),
    prompts: str | None = PROMPTS_OPTION,
    column: str | None = typer.Option(None, "--column", help="Column of --prompts holding the prompt."),
    study: str = typer.Option("validate", "--study", help="The bulk study the run is stored in."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the draw and the images (default: new)."),
    images: int = typer.Option(1, "--images-per-prompt", min=1, help="Images per prompt and generator."),
    normalize: str = typer.Option(
        "auto", "--normalize", help="Ensemble normalisation: auto, reference, batch, rank."
    ),
    reference_stats: Path | None = typer.Option(
        None, "--reference-stats", help="JSON {scorer: {mean, std}}."
    ),
    retries: int = RETRIES_OPTION,
    batch_size: int = BATCH_OPTION,
    ray: str | None = RAY_OPTION,
    ray_workers: int | None = RAY_WORKERS_OPTION,
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    embedder: str | None = typer.Option(None, "--embedder", help="Embedding model for the topics."),
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    generators_file: Path | None = GENERATORS_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """The validator flow in one command: draw -n prompts per topic, generate with each generator,
    score with the reward (an ensemble's members each stored), and print per generator the mean reward
    and its components. The run is stored as a bulk study."""
    import secrets

    from imagearena.arena.bulk import BulkPrompt, category_of, make_plan, validator_rewards
    from imagearena.cli.generate import pick_generators
    from imagearena.cli.prompts import open_index
    from imagearena.errors import InputError
    from imagearena.scorers.ensemble import parse_spec

    if prompts is None:
        raise InputError(
            "pass --prompts SET (or set IMAGEARENA_PROMPT_SET): the prompts the topics are drawn from"
        )
    if not generator:
        raise InputError("name at least one generator: --generator NAME")
    settings = load_settings(db, data_dir)
    members = [name for name, _ in parse_spec(scorer)]
    configs = pick_generators(generator_names(generator), generators_file or settings.generators_path)
    if seed is None:
        seed = secrets.randbelow(2**31 - images)
    index = open_index(prompts, column, "train", embedder, device, settings.database_url, settings.data_dir)
    drawn = index.sample([t.strip() for t in topics.split(",")], per_topic, from_top=from_top, seed=seed)
    # a drawn prompt's category is its row's, else the topic it was drawn for
    chosen = [
        BulkPrompt(m.prompt.text.strip(), category_of(m.prompt) or m.topic) for ms in drawn.picks for m in ms
    ]
    plan = make_plan(
        study, chosen, configs, members, images_per_prompt=images, seed=seed, source=index.prompt_set.source
    )
    report = run_plan(
        settings,
        plan,
        retries=retries,
        batch_size=batch_size,
        options=scorer_options(device, dtype),
        ray=ray,
        ray_workers=ray_workers,
    )
    print_summary(report)
    rows = validator_rewards(
        settings,
        plan,
        scorer,
        normalize=normalize,
        reference_stats=str(reference_stats) if reference_stats else None,
    )
    print_validator(rows, fmt, drawn.seed)
    if report.failures:
        raise typer.Exit(SKIPPED_EXIT_CODE)


def print_validator(rows: Sequence[ValidatorRow], fmt: TableFormat, seed: int) -> None:
    if fmt is TableFormat.json:
        listed = [
            {"generator": r.generator, "reward": r.reward, "components": r.components, "images": r.images}
            for r in rows
        ]
        print(json.dumps({"seed": seed, "generators": listed}, indent=2, ensure_ascii=False))
        return
    width = max([len(r.generator) for r in rows] + [9])
    for r in rows:
        parts = json.dumps({k: round(v, 4) for k, v in r.components.items()}, ensure_ascii=False)
        print(f"{r.generator:<{width}}  mean reward {r.reward:7.4f}  {parts}")
    print(f"Seed {seed} (--seed {seed} draws these prompts again).", file=sys.stderr)
