"""CLI command: `imagearena studies` (the studies of a database, with their counts and prompt sets)."""

from __future__ import annotations

import json
from pathlib import Path

from imagearena.cli.app import TABLE_FORMAT_OPTION, TableFormat, app, console
from imagearena.cli.db import DATA_DIR_OPTION, DB_OPTION

#: What the listing says about an empty database: how a first study is made.
NO_STUDIES_HINT = (
    "make one with  imagearena demo  (drawn images),  imagearena import-folder DIR --study NAME  "
    "(one sub-folder per model) or  imagearena rank-folder FOLDER  (rank a folder's images)"
)


@app.command("studies")
def studies(
    fmt: TableFormat = TABLE_FORMAT_OPTION,
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """List the studies of the database: kind, round type, human decisions, models, prompt set, created.

    Creates nothing: a missing database or an empty one has no studies.
    """
    from imagearena.arena.database import shown_url
    from imagearena.arena.studies import stored_studies
    from imagearena.cli.db import load_settings

    settings = load_settings(db, data_dir)
    listed = stored_studies(settings)
    if fmt is TableFormat.json:
        rows = [
            {
                "name": s.summary.name,
                "kind": s.summary.kind,
                "round_type": s.summary.round_type,
                "decisions": s.summary.votes,
                "models": s.summary.models,
                "prompt_set": s.prompt_set,
                "created_at": s.summary.created_at.isoformat(),
            }
            for s in listed
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not listed:
        print(f"No studies in {shown_url(settings.database_url)}: {NO_STUDIES_HINT}.")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table()
    columns = (
        ("Name", "left"),
        ("Kind", "left"),
        ("Round", "left"),
        ("Decisions", "right"),
        ("Models", "right"),
        ("Prompt set", "left"),
        ("Created (UTC)", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in listed:
        row = s.summary
        cells = (
            row.name,
            row.kind,
            row.round_type,
            str(row.votes),
            str(row.models),
            s.prompt_set or "",
            f"{row.created_at:%Y-%m-%d %H:%M}",
        )
        table.add_row(*map(Text, cells))  # Text: a name with [brackets] is not read as markup
    console().print(table, highlight=False)
