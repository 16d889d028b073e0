"""CLI commands: `imagearena judge` (an automatic arena: a judge decides the matches people decided,
and its board is printed beside theirs) and `imagearena export preferences` (preference data for
tuning). The database layer, the judges and pyarrow load inside the commands."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from imagearena.cli.app import TableFormat, app, console
from imagearena.cli.db import DATA_DIR_OPTION, DB_OPTION, load_settings
from imagearena.types import RatingMethod

if TYPE_CHECKING:
    from imagearena.arena.judging import AutomaticBoard

export_app = typer.Typer(help="Write a study's decisions out for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


class PreferenceFormatChoice(StrEnum):
    pickapic = "pickapic"
    trl = "trl"
    rankings = "rankings"


class ImageModeChoice(StrEnum):
    embed = "embed"
    path = "path"


class MethodChoice(StrEnum):
    elo = RatingMethod.ELO.value
    trueskill = RatingMethod.TRUESKILL.value
    bt = RatingMethod.BT.value


@app.command("judge")
def judge_command(
    study: str = typer.Option(..., "--study", help="The study whose human-decided matches are judged."),
    judge: str = typer.Option(
        ..., "--judge", help="A [judges.NAME] entry of --judges, or a scorer spec (clip, imagereward,clip)."
    ),
    judges_file: Path | None = typer.Option(None, "--judges", help="The judges TOML file."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Judge at most this many new matches."),
    method: MethodChoice = typer.Option(MethodChoice.bt, "--method", help="Rating method of both boards."),
    top: int = typer.Option(10, "--top", min=0, help="Disagreements to list."),
    board_only: bool = typer.Option(False, "--board-only", help="Judge nothing: print the boards only."),
    output: TableFormat = typer.Option(TableFormat.table, "--format", help="table or json."),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Have a judge decide every match of the study that people decided and it has not (stored with
    judge = its name, apart from the human leaderboard), then print its board beside the people's with
    Kendall tau, Spearman and the matches where they disagree most."""
    from imagearena.arena.judging import automatic_board, judge_study
    from imagearena.arena.runtime import Arena
    from imagearena.cli.scoring import progress_bar
    from imagearena.judges.config import resolve_judge

    arena = Arena(load_settings(db, data_dir))
    failed = 0
    try:
        if not board_only:
            built = resolve_judge(judge, judges_file)
            try:
                with progress_bar() as progress:
                    run = judge_study(arena, study, built, limit=limit, on_progress=progress)
            finally:
                close = getattr(built, "close", None)
                if close is not None:
                    close()
            failed = len(run.failed)
            err = console(stderr=True)
            err.print(
                f"{run.judge}: judged {run.judged} matches now, {run.already} before; {failed} failed",
                highlight=False,
            )
            for match_id, message in run.failed[:5]:
                err.print(f"  match {match_id}: {message}", highlight=False, markup=False)
            judge = run.judge
        board = automatic_board(arena, study, judge, method.value, top=top)
    finally:
        arena.close()
    if output is TableFormat.json:
        print(json.dumps(_board_json(board), indent=2, default=str))
    else:
        _print_board(board)
    if failed:
        raise typer.Exit(1)


def _board_json(board: AutomaticBoard) -> dict[str, object]:
    data = asdict(board)
    data["agreement"] = board.agreement
    return data


def _print_board(board: AutomaticBoard) -> None:
    from rich.table import Table

    out = console()
    human = {r.model: r for r in board.human_rows}
    auto = {r.model: r for r in board.judge_rows}
    table = Table(title=f"{board.study}: people and {board.judge} ({board.method})")
    for column in ("model", "human rank", "human rating", "judge rank", "judge rating"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model in sorted(set(human) | set(auto), key=lambda m: (human[m].rank if m in human else 1 << 30, m)):
        h, a = human.get(model), auto.get(model)
        table.add_row(
            model,
            str(h.rank) if h else "",
            f"{h.rating:.1f}" if h else "",
            str(a.rank) if a else "",
            f"{a.rating:.1f}" if a else "",
        )
    out.print(table)
    c = board.comparison
    tau = "n/a" if c.kendall_tau is None else f"{c.kendall_tau:.3f}"
    rho = "n/a" if c.spearman is None else f"{c.spearman:.3f}"
    agree = "n/a" if board.agreement is None else f"{board.agreement:.1%}"
    out.print(
        f"Kendall tau {tau}, Spearman {rho} over {c.models} models; the judge agrees with people on {agree} "
        f"of {board.matches} matches",
        highlight=False,
    )
    for d in board.disagreements:
        models = ", ".join(f"{i.model} ({i.sha256[:10]})" for i in d.images)
        out.print(
            f"match {d.match_id} {d.prompt!r}: {models}; people {list(d.human)}, judge {list(d.judge)}"
            + (f": {d.rationale}" if d.rationale else ""),
            highlight=False,
            markup=False,
        )


@export_app.command("preferences")
def export_preferences_command(
    study: str = typer.Option(..., "--study", help="The study whose human decisions are written."),
    output: PreferenceFormatChoice = typer.Option(..., "--format", help="pickapic, trl or rankings."),
    out: Path = typer.Option(..., "--out", help="The folder to write into (made when missing)."),
    images: ImageModeChoice = typer.Option(
        ImageModeChoice.embed, "--images", help="embed the image bytes, or name each file by path."
    ),
    include_both_bad: bool = typer.Option(False, "--include-both-bad", help="Keep both_bad votes too."),
    db: str | None = DB_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
) -> None:
    """Write the study's human decisions as preference data: Pick-a-Pic v2 or TRL parquet, or the
    ImageReward test.json rankings."""
    from imagearena.arena.preferences import export_preferences
    from imagearena.arena.runtime import Arena

    arena = Arena(load_settings(db, data_dir))
    try:
        result = export_preferences(
            arena, study, output.value, out, images=images.value, include_both_bad=include_both_bad
        )
    finally:
        arena.close()
    print(
        f"Wrote {result.rows} rows from {result.decisions} decisions to {result.path}"
        + (f" ({result.skipped} left out)" if result.skipped else "")
    )
