"""CLI command: `imagearena generate` makes images with configured generators, into a study or a folder.

Thin: resolve the generator entries and the prompts, run imagearena.arena.generation under a progress
bar, print what was made and each failure in one line. Keys are read from the environment by the
backends and never printed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from imagearena.cli.app import app, console, transient_bar
from imagearena.cli.db import DATA_DIR_OPTION, DB_OPTION, SKIPPED_EXIT_CODE, load_settings
from imagearena.cli.generation import GENERATORS_OPTION

if TYPE_CHECKING:
    from rich.console import Console

    from imagearena.arena.generation import Failure, GenerationReport
    from imagearena.generators.config import GeneratorConfig

#: Longest part of a prompt shown in a progress or failure line.
SHOWN_PROMPT = 60


def pick_generators(names: str, path: Path) -> list[GeneratorConfig]:
    """The entries named in ``NAME[,NAME...]``, in that order, from the generators file at ``path``."""
    from imagearena.errors import InputError
    from imagearena.generators.config import load_generators

    wanted = list(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))
    if not wanted:
        raise InputError("name at least one generator: --generator NAME[,NAME...]")
    configs = load_generators(path)
    unknown = [n for n in wanted if n not in configs]
    if unknown:
        known = ", ".join(configs) or f"none: add [generators.<name>] entries to {path}"
        raise InputError(f"no generator {', '.join(map(repr, unknown))} in {path}; configured: {known}")
    return [configs[n] for n in wanted]


def read_prompts(
    prompt: list[str] | None, prompts_file: str | None, column: str | None
) -> tuple[list[str], str]:
    """(the prompts, where they came from) from --prompt (repeatable) or --prompts FILE."""
    from imagearena.errors import InputError

    if bool(prompt) == bool(prompts_file):
        raise InputError("pass either --prompt TEXT (repeatable) or --prompts FILE")
    if prompt:
        return list(prompt), "generate"
    from imagearena.prompts.loaders import load_prompt_set

    prompt_set = load_prompt_set(str(prompts_file), column=column)
    return prompt_set.texts, f"generate:{prompt_set.name}"


def shorten(text: str, limit: int = SHOWN_PROMPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_line(failure: Failure) -> str:
    what = failure.generator
    if failure.prompt is not None:
        what += f" seed {failure.seed} {shorten(failure.prompt)!r}"
    return f"FAILED {what}: {failure.message}"


def print_report(out: Console, report: GenerationReport, where: str) -> None:
    made = ", ".join(f"{name} {count}" for name, count in report.made.items()) or "none"
    line = (
        f"{where}: generated {report.generated}, already present {report.already}, "
        f"failed {report.failed}; made by generator: {made}"
    )
    if report.duplicates:
        line += f"; {report.duplicates} identical to an image already stored (not added again)"
    out.print(line, markup=False, highlight=False)


@app.command("generate")
def generate_command(
    generator: str = typer.Option(
        ..., "--generator", help="Generator entries to run, NAME[,NAME...] (see `imagearena generators`)."
    ),
    prompt: list[str] | None = typer.Option(None, "--prompt", help="A prompt; repeat for more."),
    prompts_file: str | None = typer.Option(
        None, "--prompts", help="Prompt file (.txt, .jsonl, .csv, .tsv, .json) or hf:OWNER/NAME."
    ),
    column: str | None = typer.Option(None, "--column", help="Column of --prompts holding the prompt."),
    n: int = typer.Option(1, "--n", help="Images per prompt and generator; image k uses seed S + k."),
    seed: int = typer.Option(0, "--seed", help="Seed S of the first image."),
    batch: int = typer.Option(
        1, "--batch", help="Ask for up to this many seeds of one prompt per request (default 1)."
    ),
    study: str | None = typer.Option(
        None, "--study", help="Study to add the images to; created when missing."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Write DIR/<generator>/<slug>_<seed>.png with a .txt prompt sidecar instead."
    ),
    generators_file: Path | None = GENERATORS_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Generate images for prompts with one or more configured generators, into a study or a folder.

    Each image is bound to its generator, prompt, seed and parameters when it is made. A rerun makes
    only the images still missing. A failed image is listed and the run goes on. Exit status: 0 when
    every image was made or already there, 3 when some failed, 1 when the run could not start.
    """
    from rich.markup import escape

    from imagearena.arena.generation import Unit, generate_into_folder, generate_into_study
    from imagearena.errors import InputError
    from imagearena.media import Limits

    if (study is None) == (out_dir is None):
        raise InputError("pass either --study NAME (into the database) or --out DIR (into a folder)")
    settings = load_settings(db, data_dir)
    configs = pick_generators(generator, generators_file or settings.generators_path)
    prompts, source = read_prompts(prompt, prompts_file, column)
    out = console()
    progress = transient_bar("Generating", out=out, current=True)
    task = progress.add_task("generate", total=None, current="")

    def done(unit: Unit, ok: bool) -> None:
        progress.update(task, advance=1, current=escape(f"{unit.generator}: {shorten(unit.prompt, 40)}"))

    def start(total: int) -> None:
        progress.update(task, total=total)

    def failed(failure: Failure) -> None:  # shown above the bar as it happens
        progress.console.print(failure_line(failure), markup=False, highlight=False)

    with progress:
        if study is not None:
            report = generate_into_study(
                settings,
                configs,
                prompts,
                study,
                n=n,
                seed=seed,
                prompt_source=source,
                on_start=start,
                on_done=done,
                on_failure=failed,
                batch=batch,
            )
            where = f"Study {report.target}"
        else:
            assert out_dir is not None
            report = generate_into_folder(
                configs,
                prompts,
                out_dir,
                n=n,
                seed=seed,
                limits=Limits.from_settings(settings),
                on_start=start,
                on_done=done,
                on_failure=failed,
                batch=batch,
            )
            where = f"Folder {report.target}"
    print_report(out, report, where)
    if report.failures:
        raise typer.Exit(SKIPPED_EXIT_CODE)
