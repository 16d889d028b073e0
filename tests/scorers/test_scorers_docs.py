"""docs/scorers.md must mention every option of `imagearena score` and every built-in scorer."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

import imagearena.cli  # noqa: F401  (registers the commands)
from imagearena.cli.app import app
from imagearena.scorers import list_scorers

DOC = Path(__file__).resolve().parents[2] / "docs" / "scorers.md"


def score_options() -> list[str]:
    command = typer.main.get_command(app).get_command(None, "score")  # type: ignore[attr-defined]
    return [opt for param in command.params for opt in param.opts if opt.startswith("--")]


@pytest.mark.parametrize("option", score_options())
def test_every_score_option_is_documented(option):
    if option == "--help":
        return
    assert option in DOC.read_text(), f"document {option} in docs/scorers.md"


@pytest.mark.parametrize("name", list_scorers())
def test_every_scorer_is_documented(name):
    assert f"`{name}`" in DOC.read_text(), f"add {name} to the table in docs/scorers.md"
