"""The automatic leaderboard of a bulk study on its study and leaderboard pages: per scorer, each
generator's mean score with its 95% interval and Bradley-Terry over per-prompt comparisons, and the
means per prompt category; derived from the stored scores (imagearena.arena.bulk), never by a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imagearena.arena.bulk import stored_bulk_leaderboard
from imagearena.types import StudyKind

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
                "rows": [{"generator": g, "mean": m, "bt": bt.get(g)} for g, m in board.ranked],
                "generators": names,
                "categories": board.categories,
            }
        )
    return out or None
