"""Scoring a study is an arena use case: it reads the study's images, stores each member's score and
commits per batch, on SQLite and PostgreSQL. The CLI only parses, calls it and prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from imagearena.arena.scoring import score_study
from imagearena.media import MediaStore
from imagearena.scorers import create_scorer
from imagearena.scorers.ensemble import build_scorer
from imagearena.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def seed(settings: Settings, images: list, study: str = "s1") -> None:
    from imagearena.arena.database import database_session
    from imagearena.storage import catalog, studies

    store = MediaStore(settings.media_dir)
    with database_session(settings.database_url) as session:
        row = studies.create_study(session, study, kind="bulk")
        model = catalog.get_or_create_model(session, "m1")
        prompt = catalog.get_or_create_prompt(session, "a photo of a cat")
        for i, image in enumerate(images):
            catalog.add_image(session, row, model, prompt, store.put_pil(image), source=f"img{i}.png")
        session.commit()


def stored_scores(settings: Settings, scorer: str, study: str = "s1") -> dict[int, float]:
    from imagearena.arena.database import database_session
    from imagearena.storage import catalog, scores, studies

    with database_session(settings.database_url, create=False) as session:
        return scores.scores_for(
            session, catalog.list_images(session, studies.get_study(session, study)), scorer
        )


@pytest.fixture
def settings(tmp_path, db_url) -> Settings:
    return Settings(data_dir=tmp_path / "data", db_url=db_url)


def test_scores_are_stored_then_only_missing_ones_computed(settings, tiny_clip, tiny_blip, images):
    seed(settings, images[:3])
    clip = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32")
    progress: list[tuple[int, int]] = []
    first = score_study(
        settings, clip, ["clip"], "s1", batch_size=2, workers=0, on_progress=lambda *p: progress.append(p)
    )
    assert first.already_scored == 0 and [r.ok for r in first.results] == [True] * 3
    assert progress == [(0, 3), (2, 3), (3, 3)]  # committed per batch
    stored = stored_scores(settings, "clip")
    assert sorted(stored.values()) == pytest.approx(sorted(r.score for r in first.results))

    again = score_study(settings, clip, ["clip"], "s1", workers=0)
    assert again.results == [] and again.already_scored == 3

    mix = build_scorer(
        "clip,blip",
        options={"clip": {"weights": str(tiny_clip)}, "blip": {"weights": str(tiny_blip)}},
        device="cpu",
        dtype="fp32",
        normalize="batch",
    )
    both = score_study(settings, mix, ["clip", "blip"], "s1", workers=0)  # blip is missing everywhere
    assert both.already_scored == 0 and len(both.results) == 3
    assert len(stored_scores(settings, "blip")) == 3
    assert stored_scores(settings, "clip") == pytest.approx(stored)  # the rerun stores the same clip values


def test_an_image_missing_from_the_store_is_reported_not_fatal(settings, tiny_clip, images):
    seed(settings, images[:2])
    stored_files = sorted(p for p in Path(settings.media_dir).rglob("*") if p.is_file())
    assert len(stored_files) == 2
    stored_files[0].unlink()
    clip = create_scorer("clip", weights=str(tiny_clip), device="cpu", dtype="fp32")
    run = score_study(settings, clip, ["clip"], "s1", workers=0)
    assert sorted(r.ok for r in run.results) == [False, True]
    assert len(stored_scores(settings, "clip")) == 1


def test_the_scoring_cli_reaches_the_database_only_through_arena():
    tree = ast.parse((ROOT / "src" / "imagearena" / "cli" / "scoring.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not [m for m in imported if m.startswith(("imagearena.storage", "sqlalchemy"))]
    assert "imagearena.arena.scoring" in imported
