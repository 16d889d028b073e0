"""CLI command: `imagearena agreement`, how often reward scorers agree with people. numpy, the database
layer and the models load inside the command."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from imagearena.cli.app import ReportFormat, app, console
from imagearena.errors import InputError

if TYPE_CHECKING:
    from imagearena.arena.agreement import AgreementReport


def split_names(spec: str | None) -> list[str]:
    """``"a,b"`` -> ["a", "b"]; a name given twice counts once."""
    names = [n.strip() for n in (spec or "").split(",") if n.strip()]
    return list(dict.fromkeys(names))


def parse_margins(spec: str | None, names: Sequence[str]) -> dict[str, float]:
    """``--tie-margin X`` (every scorer) or ``NAME=X[,NAME=X...]`` -> {name: X}."""
    if spec is None:
        return {}
    out: dict[str, float] = {}
    pieces = [p.strip() for p in spec.split(",") if p.strip()]
    for piece in pieces:
        name, sep, value = piece.rpartition("=")
        try:
            margin = float(value)
        except ValueError:
            margin = math.nan
        if not math.isfinite(margin) or margin < 0 or (sep and not name) or (not sep and len(pieces) > 1):
            raise InputError(
                f"--tie-margin {spec!r}: write a number of 0 or more for every scorer (--tie-margin 0.05) "
                "or NAME=X[,NAME=X...] (--tie-margin clip=0.01)"
            )
        if sep:
            out[name.strip()] = margin
        else:
            out.update(dict.fromkeys(names, margin))
    return out


def parse_scores(values: Sequence[str]) -> dict[str, Path]:
    """``--scores [NAME=]FILE`` (repeatable) -> {name: file}; the name defaults to the file's stem."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, file = value.partition("=")
        if sep and name.strip() and not Path(value).exists():
            key, path = name.strip(), Path(file)
        else:
            key, path = Path(value).stem, Path(value)
        if key in out:
            raise InputError(f"two --scores files are named {key!r}: write NAME=FILE to tell them apart")
        out[key] = path
    return out


def _given(**options: object) -> list[str]:
    return [
        f"--{name.replace('_', '-')}" for name, value in options.items() if value not in (None, False, [], ())
    ]


@app.command("agreement")
def agreement_command(
    study: str | None = typer.Option(None, "--study", help="Compare with this study's human votes."),
    rankings: Path | None = typer.Option(
        None, "--rankings", help="ImageReward test.json rankings: the paper's Table 3 protocol."
    ),
    scorer_spec: str | None = typer.Option(
        None, "--scorer", "-s", help="Scorers to compare: NAME[,NAME...]."
    ),
    scores: list[str] = typer.Option(
        [], "--scores", help="[NAME=]FILE: scores `imagearena score --format json` wrote (with --rankings)."
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Folder the rankings' image paths start in (with --rankings --scorer)."
    ),
    tie_margin: str | None = typer.Option(
        None,
        "--tie-margin",
        help="Scores closer than this are a scorer tie: X for every scorer or NAME=X,... "
        "Adds the accuracy on human tie votes.",
    ),
    categories: Path | None = typer.Option(
        None, "--categories", help="Prompt file with a category column (PartiPrompts.tsv): adds a breakdown."
    ),
    category_column: str = typer.Option("category", "--category-column", help="Its category column."),
    score_missing: bool = typer.Option(
        False, "--score-missing", help="Score the study's images that lack a stored score first."
    ),
    rounds: int = typer.Option(1000, "--rounds", min=0, help="Bootstrap rounds for the 95% intervals."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, fp32, fp16, bf16."),
    batch_size: int = typer.Option(16, "--batch-size", "-b", min=1, help="Images per forward pass."),
    workers: int = typer.Option(4, "--workers", min=0, help="Decoder threads (0: decode inline)."),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table, json or csv."),
    db: str | None = typer.Option(None, "--db", help="Database URL for --study."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data folder for --study."),
) -> None:
    """Share of human preferences each scorer agrees with, with 95% bootstrap intervals.

    --study NAME: the study's decisive votes (four-image rounds through their rank-broken pairs) against
    stored scores, per model pair and prompt category, beside how often two voters agree. --rankings
    test.json: the ImageReward paper's Table 3 protocol, pooled over every pair of differently ranked
    images of every prompt.
    """
    if (study is None) == (rankings is None):
        raise InputError("give --study NAME or --rankings FILE (exactly one)")
    names = split_names(scorer_spec)
    options = {"device": device, "dtype": dtype}
    progress = None
    if study is not None:
        wrong = _given(scores=scores, images=images)
        if wrong:
            raise InputError(f"{', '.join(wrong)} go with --rankings; a study's images are in its database")
        if not names:
            raise InputError("name the scorers to compare: --scorer NAME[,NAME...]")
        report = _study(
            study,
            names,
            parse_margins(tie_margin, names),
            categories,
            category_column,
            score_missing,
            rounds,
            seed,
            {**options, "batch_size": batch_size},
            db,
            data_dir,
        )
    else:
        assert rankings is not None
        wrong = _given(categories=categories, score_missing=score_missing, db=db, data_dir=data_dir)
        if wrong:
            raise InputError(f"{', '.join(wrong)} go with --study")
        score_files = parse_scores(scores)
        if not names and not score_files:
            raise InputError("give --scorer NAME with --images DIR, or --scores FILE")
        if names and images is None:
            raise InputError("--scorer with --rankings scores the images: add --images DIR (or use --scores)")
        from imagearena.arena.agreement import rankings_agreement
        from imagearena.cli.scoring import progress_bar, quiet_model_loading

        if names:
            quiet_model_loading()
        with progress_bar() as progress:
            report = rankings_agreement(
                rankings,
                scores=score_files,
                images=images,
                scorers=names,
                margins=parse_margins(tie_margin, [*score_files, *names]),
                rounds=rounds,
                seed=seed,
                scorer_options=options,
                batch_size=batch_size,
                workers=workers,
                on_progress=progress,
            )
    print_report(report, fmt)
    for note in report.notes:
        print(f"Note: {note}.", file=sys.stderr)


def _study(
    study: str,
    names: list[str],
    margins: dict[str, float],
    categories: Path | None,
    category_column: str,
    score_missing: bool,
    rounds: int,
    seed: int,
    options: dict[str, Any],
    db: str | None,
    data_dir: Path | None,
) -> AgreementReport:
    from imagearena.arena.agreement import read_categories, study_agreement
    from imagearena.cli.db import load_settings
    from imagearena.cli.scoring import progress_bar, quiet_model_loading

    category_map = read_categories(categories, category_column) if categories is not None else None
    if score_missing:
        quiet_model_loading()
    with progress_bar() as progress:
        return study_agreement(
            load_settings(db, data_dir),
            study,
            names,
            margins=margins,
            categories=category_map,
            rounds=rounds,
            seed=seed,
            score_missing=score_missing,
            scorer_options=options,
            on_progress=progress,
        )


def print_report(report: AgreementReport, fmt: ReportFormat) -> None:
    if fmt is ReportFormat.json:
        import json

        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif fmt is ReportFormat.csv:
        import csv

        from imagearena.arena.agreement import CSV_FIELDS

        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in report.csv_rows():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    else:
        print_tables(report)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _ci(lower: float | None, upper: float | None) -> str:
    return "-" if lower is None or upper is None else f"[{100 * lower:.2f}, {100 * upper:.2f}]"


def print_tables(report: AgreementReport) -> None:
    from rich.table import Table

    from imagearena.arena.agreement import TABLE3

    out = console()
    title = (
        f"ImageReward Table 3 protocol: {report.pairs} pairs in {report.source}"
        if report.protocol == TABLE3
        else f"Agreement with {report.pairs} decisive human pairs in study {report.source}"
    )
    ties = any(s.result.ties is not None for s in report.scorers)
    table = Table(title=title)
    for header in ("Scorer", "Accuracy %", "95% CI", "Correct", "Pairs", "Unscored"):
        table.add_column(header, justify="left" if header == "Scorer" else "right")
    if ties:
        table.add_column("Tie margin", justify="right")
        table.add_column("On ties %", justify="right")
        table.add_column("Tie pairs", justify="right")
    for s in report.scorers:
        d = s.result.decisive
        cells = [
            s.scorer,
            _pct(d.accuracy),
            _ci(d.lower, d.upper),
            str(d.correct),
            str(d.n),
            str(s.result.unscored),
        ]
        if ties:
            t = s.result.ties
            cells += [f"{s.result.margin:g}", _pct(t.accuracy if t else None), str(t.n) if t else "-"]
        table.add_row(*cells)
    if report.human is not None:
        h = report.human.agreement
        cells = ["(two voters)", _pct(h.accuracy), _ci(h.lower, h.upper), "", str(report.human.votes), ""]
        table.add_row(*cells, *([""] * 3 if ties else []), style="italic")
    out.print(table)
    if report.human is not None and not report.human.agreement.n:
        out.print("No two voters judged the same two images: no human ceiling.", highlight=False)
    names = [s.scorer for s in report.scorers]
    for part in dict.fromkeys(k for s in report.scorers for k in s.result.breakdowns):
        groups: dict[str, dict[str, Any]] = {}
        for s in report.scorers:
            for g in s.result.breakdowns.get(part, []):
                groups.setdefault(g.group, {})[s.scorer] = g.accuracy
        if not groups:
            continue
        sub = Table(title=f"By {part.replace('_', ' ')}")
        sub.add_column(part.replace("_", " ").capitalize())
        sub.add_column("Pairs", justify="right")
        for name in names:
            sub.add_column(f"{name} %", justify="right")
        for group, accs in groups.items():
            n = max(a.n for a in accs.values())
            sub.add_row(
                group,
                str(n),
                *(
                    f"{_pct(accs[x].accuracy)} {_ci(accs[x].lower, accs[x].upper)}" if x in accs else "-"
                    for x in names
                ),
            )
        out.print(sub)
