"""CLI commands: `imagearena prompts search|sample` over a prompt file, a Hugging Face dataset or a
stored set, and `imagearena prompts import|list|show|attach|detach` for sets stored in the database
and the studies they are attached to. The embedding model, torch and the index load inside the
commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from imagearena.cli.app import TABLE_FORMAT_OPTION, TableFormat, app, console, transient_bar

if TYPE_CHECKING:
    from imagearena.prompts.loaders import Prompt, PromptSet
    from imagearena.prompts.retrieval import Match, PromptIndex
    from imagearena.settings import Settings

prompts_app = typer.Typer(help="Prompt sets: find the prompts closest to a topic.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")

PROGRESS_MIN_ITEMS = 256  # below this embedding takes a moment; no bar
METADATA_COLUMNS = 3  # at most this many metadata columns in a table

SET_OPTION = typer.Option(
    ...,
    "--set",
    envvar="IMAGEARENA_PROMPT_SET",
    help="Prompt file (.txt, .jsonl, .csv, .tsv, .json), hf:OWNER/NAME, or a stored set's name.",
)
COLUMN_OPTION = typer.Option(None, "--column", help="Column holding the prompt (default: prompt, text...).")
SPLIT_OPTION = typer.Option("train", "--split", help="Split of a Hugging Face dataset.")
EMBEDDER_OPTION = typer.Option(
    None, "--embedder", help="sentence-transformers model id or folder (default: bundled all-MiniLM-L6-v2)."
)
DEVICE_OPTION = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, mps.")
DATA_DIR_OPTION = typer.Option(
    None, "--data-dir", help="Where embeddings are cached (default: the data dir)."
)
DB_OPTION = typer.Option(None, "--db", help="Database URL of stored sets; default: SQLite in the data dir.")


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A transient bar on stderr while a set is embedded or indexed (long sets only)."""
    from rich.progress import Progress, TaskID

    bars: dict[str, tuple[Progress, TaskID]] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in bars:
            for progress, _ in bars.values():
                progress.stop()
            progress = transient_bar(phase.capitalize(), disable=total < PROGRESS_MIN_ITEMS)
            progress.start()
            bars[phase] = progress, progress.add_task(phase, total=total)
        progress, task = bars[phase]
        progress.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        for progress, _ in bars.values():
            progress.stop()


def load_set(source: str, column: str | None, split: str, settings: Settings) -> PromptSet:
    """``db:NAME`` or a bare NAME (no such file, no extension, no slash) is a stored set; anything
    else is a prompt file or an hf: dataset."""
    from imagearena.arena.prompt_sets import STORED_PREFIX, stored_prompt_set
    from imagearena.prompts.loaders import HF_PREFIX, load_prompt_set

    if source.startswith(STORED_PREFIX):
        return stored_prompt_set(settings, source[len(STORED_PREFIX) :])
    path = Path(source).expanduser()
    if source.startswith(HF_PREFIX) or path.exists() or path.suffix or "/" in source or "\\" in source:
        return load_prompt_set(source, column=column, split=split)
    return stored_prompt_set(settings, source)


def open_index(
    source: str,
    column: str | None,
    split: str,
    embedder: str | None,
    device: str,
    db: str | None,
    data_dir: Path | None,
) -> PromptIndex:
    from imagearena.cli.db import load_settings
    from imagearena.prompts.embedding import Embedder
    from imagearena.prompts.retrieval import PromptIndex

    settings = load_settings(db, data_dir)
    prompt_set = load_set(source, column, split, settings)
    model = Embedder(embedder, device=device)
    cache_dir = settings.data_dir
    with progress_bar() as show:
        index = PromptIndex.open(prompt_set, model, cache_dir, on_progress=show)
    if index.embedded_now:
        print(
            f"Embedded {len(prompt_set)} prompts of {prompt_set.name} with {model.name}; "
            f"cached under {cache_dir / 'prompt-embeddings'}.",
            file=sys.stderr,
        )
    return index


def match_row(m: Match) -> dict[str, Any]:
    return {
        "topic": m.topic,
        "rank": m.rank,
        "row": m.row,
        "similarity": round(m.similarity, 6),
        "prompt": m.prompt.text,
        "metadata": dict(m.prompt.metadata),
    }


def metadata_columns(prompts: Sequence[Prompt]) -> list[str]:
    """The first METADATA_COLUMNS metadata keys with plain values, in first-seen order."""
    columns: list[str] = []
    for p in prompts:
        for key, value in p.metadata.items():
            if (
                key not in columns
                and isinstance(value, str | int | float)
                and len(columns) < METADATA_COLUMNS
            ):
                columns.append(key)
    return columns


def print_table(matches: Sequence[Match], *, with_topic: bool) -> None:
    from rich.table import Table

    columns: list[str] = []
    for m in matches:
        for key, value in m.prompt.metadata.items():
            if (
                key not in columns
                and isinstance(value, str | int | float)
                and len(columns) < METADATA_COLUMNS
            ):
                columns.append(key)
    table = Table()
    if with_topic:
        table.add_column("Topic")
    table.add_column("Rank", justify="right")
    table.add_column("Similarity", justify="right")
    table.add_column("Prompt")
    for key in columns:
        table.add_column(key)
    for m in matches:
        cells = [m.topic] if with_topic else []
        cells += [str(m.rank), f"{m.similarity:.4f}", m.prompt.text]
        cells += [str(m.prompt.metadata.get(key, "")) for key in columns]
        table.add_row(*cells)
    console().print(table, highlight=False)


@prompts_app.command("search")
def search(
    topic: str = typer.Argument(..., help="What the prompts should be about."),
    k: int = typer.Option(5, "--top-k", "-k", min=1, help="How many prompts to show."),
    prompt_set: str = SET_OPTION,
    column: str | None = COLUMN_OPTION,
    split: str = SPLIT_OPTION,
    embedder: str | None = EMBEDDER_OPTION,
    device: str = DEVICE_OPTION,
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """The k prompts of a set closest to a topic, by sentence-embedding cosine similarity."""
    index = open_index(prompt_set, column, split, embedder, device, db, data_dir)
    [matches] = index.search([topic], k)
    if fmt is TableFormat.json:
        print(json.dumps([match_row(m) for m in matches], indent=2, ensure_ascii=False))
    else:
        print_table(matches, with_topic=False)


@prompts_app.command("sample")
def sample(
    topics: str = typer.Option(..., "--topics", help="Comma-separated topics: 'cats,space travel'."),
    n: int = typer.Option(2, "--per-topic", "-n", min=1, help="Prompts to draw per topic."),
    from_top: int = typer.Option(20, "--from-top", min=1, help="Draw from each topic's K closest prompts."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the draw (default: a new one, printed)."),
    prompt_set: str = SET_OPTION,
    column: str | None = COLUMN_OPTION,
    split: str = SPLIT_OPTION,
    embedder: str | None = EMBEDDER_OPTION,
    device: str = DEVICE_OPTION,
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Draw n prompts per topic from its K closest, seeded; no prompt is drawn for two topics."""
    names = [t.strip() for t in topics.split(",")]
    index = open_index(prompt_set, column, split, embedder, device, db, data_dir)
    drawn = index.sample(names, n, from_top=from_top, seed=seed)
    flat = [m for picks in drawn.picks for m in picks]
    if fmt is TableFormat.json:
        print(
            json.dumps(
                {"seed": drawn.seed, "prompts": [match_row(m) for m in flat]}, indent=2, ensure_ascii=False
            )
        )
    else:
        print_table(flat, with_topic=True)
        print(f"Seed {drawn.seed} (--seed {drawn.seed} draws these again).", file=sys.stderr)


@prompts_app.command("import")
def import_set(
    source: str = typer.Argument(..., help="Prompt file (.txt, .jsonl, .csv, .tsv, .json) or hf:OWNER/NAME."),
    name: str | None = typer.Option(
        None, "--name", help="Name of the stored set (default: the file's name)."
    ),
    column: str | None = COLUMN_OPTION,
    split: str = SPLIT_OPTION,
    replace: bool = typer.Option(
        False, "--replace", help="Replace the prompts of a stored set of that name."
    ),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Store a prompt set in the database, its other columns kept as metadata."""
    from imagearena.arena.prompt_sets import import_prompt_set
    from imagearena.cli.db import load_settings
    from imagearena.prompts.loaders import load_prompt_set

    prompt_set = load_prompt_set(source, column=column, split=split)
    row = import_prompt_set(load_settings(db, data_dir), prompt_set, name or prompt_set.name, replace=replace)
    print(f"Stored {row.prompts} prompts as the prompt set {row.name!r}.")


@prompts_app.command("list")
def list_sets(
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """The prompt sets stored in the database, and the studies each is attached to."""
    from imagearena.arena.prompt_sets import list_prompt_sets, studies_by_set
    from imagearena.cli.db import load_settings

    settings = load_settings(db, data_dir)
    rows = list_prompt_sets(settings)
    attached = studies_by_set(settings, [r.name for r in rows])
    if fmt is TableFormat.json:
        shown = [
            {
                "name": r.name,
                "prompts": r.prompts,
                "source": r.source,
                "created_at": r.created_at.isoformat(),
                "studies": attached[r.name],
            }
            for r in rows
        ]
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table()
    columns = (
        ("Name", "left"),
        ("Prompts", "right"),
        ("Source", "left"),
        ("Imported", "left"),
        ("Studies", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        cells = (
            r.name,
            str(r.prompts),
            r.source,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            ", ".join(attached[r.name]),
        )
        table.add_row(*map(Text, cells))  # Text: a name with [brackets] is not read as markup
    console().print(table, highlight=False)


@prompts_app.command("show")
def show_set(
    name: str = typer.Argument(..., help="A stored set's name."),
    limit: int = typer.Option(20, "--limit", min=0, help="Show the first N prompts (0: all)."),
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """The prompts of a stored set, in order, with their metadata."""
    from imagearena.arena.prompt_sets import stored_prompt_set, studies_using
    from imagearena.cli.db import load_settings

    settings = load_settings(db, data_dir)
    prompt_set = stored_prompt_set(settings, name)
    studies = studies_using(settings, name)
    prompts = prompt_set.prompts[:limit] if limit else prompt_set.prompts
    if fmt is TableFormat.json:
        rows = [{"row": i, "prompt": p.text, "metadata": dict(p.metadata)} for i, p in enumerate(prompts)]
        print(
            json.dumps(
                {"name": prompt_set.name, "prompts": len(prompt_set), "studies": studies, "rows": rows},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    from rich.table import Table

    columns = metadata_columns(prompts)
    attached = f", attached to {', '.join(studies)}" if studies else ""
    table = Table(title=f"{prompt_set.name}: {len(prompt_set)} prompts{attached}")
    table.add_column("Row", justify="right")
    table.add_column("Prompt")
    for key in columns:
        table.add_column(key)
    for i, p in enumerate(prompts):
        table.add_row(str(i), p.text, *[str(p.metadata.get(key, "")) for key in columns])
    console().print(table, highlight=False)


@prompts_app.command("attach")
def attach_set(
    source: str = typer.Argument(..., help="A stored set's name, or a prompt file (imported first)."),
    study: str = typer.Option(..., "--study", help="The study the set is attached to."),
    column: str | None = COLUMN_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Attach a prompt set to a study: a live study draws its prompts from it."""
    from imagearena.arena.prompt_sets import attach_prompt_set
    from imagearena.cli.db import load_settings

    settings = load_settings(db, data_dir)
    row = attach_prompt_set(settings, study, load_set(source, column, "train", settings))
    print(f"Attached the prompt set {row.name!r} ({row.prompts} prompts) to the study {study!r}.")


@prompts_app.command("detach")
def detach_set(
    study: str = typer.Option(..., "--study", help="The study whose prompt set is detached."),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Detach a study's prompt set: a live study draws its prompts as it did before it was attached."""
    from imagearena.arena.prompt_sets import detach_prompt_set
    from imagearena.cli.db import load_settings

    name = detach_prompt_set(load_settings(db, data_dir), study)
    print(f"Detached the prompt set {name!r} from the study {study!r}.")
