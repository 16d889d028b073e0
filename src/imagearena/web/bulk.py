"""The automatic leaderboard of a bulk study on its study and leaderboard pages and in the JSON API:
per scorer, each generator's mean score with its 95% interval and Bradley-Terry over per-prompt
comparisons, and the means per prompt category; derived from the stored scores (imagearena.arena.bulk),
never by a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from imagearena.arena import studies
from imagearena.arena.bulk import stored_bulk_leaderboard
from imagearena.types import RatingMethod, StudyKind
from imagearena.web.api import READ_STUDY
from imagearena.web.deps import AdminFirstRoute, get_arena

if TYPE_CHECKING:
    from imagearena.arena.runtime import Arena
    from imagearena.arena.studies import StudySummary


def bulk_boards(arena: Arena, study: StudySummary) -> list[dict[str, Any]] | None:
    """The tables of a bulk study with stored scores, one per scorer; None for any other study."""
    if study.kind != StudyKind.BULK:
        return None
    boards = stored_bulk_leaderboard(arena.read_session, study.name)
    out = []
    for board in boards:
        bt = {row.model: row for row in board.bt}
        names = [g for g, _ in board.ranked]
        out.append(
            {
                "scorer": board.scorer,
                "rows": [{"generator": g, "mean": m, RatingMethod.BT: bt.get(g)} for g, m in board.ranked],
                "generators": names,
                "categories": board.categories,
            }
        )
    return out or None


router = APIRouter(prefix="/api/v1", tags=["arena"], route_class=AdminFirstRoute)


class MeanOut(BaseModel):
    mean: float = Field(description="Mean over prompts of each prompt's mean score.")
    lower: float | None = Field(description="95% Student-t interval over prompts; null with one prompt.")
    upper: float | None
    prompts: int
    images: int


class GeneratorOut(MeanOut):
    generator: str
    bt: float | None = Field(description="Bradley-Terry rating over per-prompt comparisons (mean 1000).")
    bt_lower: float | None
    bt_upper: float | None


class BoardOut(BaseModel):
    scorer: str
    generators: list[GeneratorOut] = Field(description="Best mean first.")
    categories: dict[str, dict[str, MeanOut]] = Field(description="Category -> generator -> mean.")


class BulkOut(BaseModel):
    study: str
    kind: str
    scorers: list[BoardOut] = Field(description="One board per scorer with stored scores; empty unless bulk.")


def _mean(m: Any) -> dict[str, Any]:
    return {"mean": m.mean, "lower": m.lower, "upper": m.upper, "prompts": m.prompts, "images": m.images}


@router.get("/studies/{study}/bulk", response_model=BulkOut, responses=READ_STUDY)
def bulk_leaderboard(study: str, request: Request) -> dict[str, Any]:
    """A bulk study's automatic leaderboard from its stored scores (`imagearena bench` fills them)."""
    arena = get_arena(request)
    summary = studies.study_detail(arena, study).summary
    boards = []
    for board in bulk_boards(arena, summary) or []:
        rows = []
        for row in board["rows"]:
            bt = row[RatingMethod.BT]
            rows.append(
                GeneratorOut(
                    generator=row["generator"],
                    **_mean(row["mean"]),
                    bt=None if bt is None else bt.rating,
                    bt_lower=None if bt is None else bt.lower,
                    bt_upper=None if bt is None else bt.upper,
                )
            )
        categories = {c: {g: _mean(m) for g, m in by.items()} for c, by in board["categories"].items()}
        boards.append({"scorer": board["scorer"], "generators": rows, "categories": categories})
    return {"study": summary.name, "kind": summary.kind, "scorers": boards}
