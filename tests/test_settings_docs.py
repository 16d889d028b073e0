"""Every setting is documented: its IMAGEARENA_* variable appears in the docs and its field says what it
does, so a new setting cannot land unexplained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imagearena.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def env_name(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


@pytest.fixture(scope="module")
def docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_docs(field: str, docs_text: str) -> None:
    name = env_name(field)
    assert re.search(rf"\b{name}\b", docs_text), f"{name} is not in README.md or docs/*.md"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_has_a_description(field: str) -> None:
    description = Settings.model_fields[field].description
    assert description and description.strip(), f"Settings.{field} needs description=..."


def test_the_names_are_the_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the docs are searched for are the ones Settings reads."""
    monkeypatch.setenv(env_name("elo_k"), "16")
    assert Settings().elo_k == 16.0
