"""Every use case that names a study looks it up in one place (storage.studies.get_study), so a typo is
the same 404 everywhere: it names the study asked for and lists the ones that exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from imagearena.arena import export, leaderboards, studies
from imagearena.arena.matches import serve_match
from imagearena.arena.runtime import Arena
from imagearena.errors import UnknownNameError

EXPECTED = "unknown study 'nope'; existing studies: t2i"

USE_CASES: dict[str, Callable[[Arena], Any]] = {
    "serve_match": lambda arena: serve_match(arena, "nope"),
    "study_detail": lambda arena: studies.study_detail(arena, "nope"),
    "reset_study": lambda arena: studies.reset_study(arena, "nope"),
    "recent_votes": lambda arena: studies.recent_votes(arena, "nope"),
    "import_folder": lambda arena: studies.import_folder(arena, "nope", "."),
    "export": lambda arena: export.check_exists(arena, "nope"),
    "export_rows": lambda arena: list(export.votes_jsonl(arena, "nope")),
    "leaderboard": lambda arena: leaderboards.leaderboard(arena, "nope"),
    "win_rates": lambda arena: leaderboards.win_rates(arena, "nope"),
    "rating_history": lambda arena: leaderboards.rating_history(arena, "nope"),
    "snapshot_if_due": lambda arena: leaderboards.snapshot_if_due(arena, "nope"),
}


@pytest.mark.parametrize("use_case", USE_CASES.values(), ids=USE_CASES.keys())
def test_an_unknown_study_is_one_error_everywhere(arena: Arena, use_case: Callable[[Arena], Any]) -> None:
    with pytest.raises(UnknownNameError) as raised:
        use_case(arena)
    assert str(raised.value) == EXPECTED
