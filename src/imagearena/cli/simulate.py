"""CLI command: `imagearena simulate`, pair samplers against a simulated crowd. numpy loads inside."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from imagearena.cli.app import TableFormat, app, console
from imagearena.errors import InputError


class SamplerChoice(StrEnum):
    active = "active"
    uniform = "uniform"
    both = "both"


def parse_checkpoints(values: list[str] | None) -> list[int] | None:
    """``--checkpoints 500,1000 --checkpoints 2000`` -> [500, 1000, 2000]."""
    if not values:
        return None
    out: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise InputError(
                    f"--checkpoints {value!r}: give vote counts as integers, e.g. --checkpoints 500,1000,2000"
                ) from None
    return out or None


#: Largest --spread, in Elo points. Beyond about 1,500 the draw parameter for the requested tie rate
#: can fall outside what the simulation's solver brackets (seen at 2,000 with 2 or 3 models and
#: --tie-rate 0.95); 1,000 never failed over 1,000 seeds, and already puts the best model about
#: 4,000 points above the worst of 30.
MAX_SPREAD = 1_000.0
DEFAULT_TOP_K = 5


def top_k_for(models: int, top_k: int | None) -> int:
    """The k of the top-k column: 5 by default (fewer with fewer models); more than --models is refused."""
    if top_k is None:
        return min(DEFAULT_TOP_K, models)
    if top_k > models:
        raise InputError(f"--top-k {top_k} is more than --models {models}: give a k of at most {models}")
    return top_k


@app.command("simulate")
def simulate_command(
    models: int = typer.Option(30, "--models", min=2, help="Number of simulated models."),
    votes: int = typer.Option(5000, "--votes", min=1, help="Votes per simulated arena."),
    sampler: SamplerChoice = typer.Option(SamplerChoice.both, "--sampler", help="Pair sampler(s) to run."),
    seeds: int = typer.Option(20, "--seeds", min=1, help="Simulated arenas per sampler (seeds 0, 1, ...)."),
    tie_rate: float = typer.Option(
        0.25, "--tie-rate", min=0.0, max=0.95, help="Share of draws between uniformly chosen pairs."
    ),
    spread: float = typer.Option(
        100.0, "--spread", min=1.0, max=MAX_SPREAD, help="Std. dev. of true strengths, Elo points."
    ),
    checkpoints: list[str] | None = typer.Option(
        None, "--checkpoints", help="Vote counts to report, comma-separated (default: 10 evenly spaced)."
    ),
    top_k: int | None = typer.Option(
        None, "--top-k", min=1, help="k of the top-k overlap column (default 5, or --models if fewer)."
    ),
    explore: float = typer.Option(
        0.2, "--explore", min=0.0, max=1.0, help="Uniform share of the active sampler."
    ),
    first_seed: int = typer.Option(0, "--first-seed", min=0, help="Seed of the first arena."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Play pair samplers against a Bradley-Terry crowd with draws; print Kendall tau and top-k accuracy."""
    from imagearena.ratings.simulate import simulate

    top_k = top_k_for(models, top_k)
    names = ["active", "uniform"] if sampler is SamplerChoice.both else [sampler.value]
    result = simulate(
        models=models,
        votes=votes,
        samplers=names,
        seeds=seeds,
        first_seed=first_seed,
        tie_rate=tie_rate,
        spread=spread,
        checkpoints=parse_checkpoints(checkpoints),
        top_k=top_k,
        sampler_options={"active": {"explore": explore}},
    )
    summary = result.summary()
    if fmt is TableFormat.json:
        import json

        print(json.dumps(summary, indent=2))
        return
    _print_table(summary, top_k)


def _print_table(summary: dict[str, Any], top_k: int) -> None:
    from rich.table import Table

    s = summary["settings"]
    samplers = summary["samplers"]
    table = Table(
        title=(
            f"{s['models']} models, {s['seeds']} seeds, spread {s['spread']:g} Elo, "
            f"tie rate {s['tie_rate']:g}: mean over seeds"
        )
    )
    table.add_column("votes", justify="right")
    for name in samplers:
        table.add_column(f"tau {name}", justify="right")
        table.add_column(f"top-1 {name}", justify="right")
        table.add_column(f"top-{top_k} {name}", justify="right")
    for c, votes in enumerate(summary["checkpoints"]):
        cells = [str(votes)]
        for name in samplers:
            row = samplers[name]["checkpoints"][c]
            cells += [f"{row['kendall_tau']:.3f}", f"{row['top1']:.2f}", f"{row['topk']:.2f}"]
        table.add_row(*cells)
    out = console()
    out.print(table)
    for name, data in samplers.items():
        reach = data["median_votes_to_tau_0.9"]
        reach_text = f"{reach:g}" if reach is not None else "not reached by half the seeds"
        out.print(
            f"{name}: median votes to Kendall tau >= 0.9 (at checkpoint resolution): {reach_text}; "
            f"draws {data['tie_share']:.1%}"
        )
