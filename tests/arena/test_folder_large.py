"""A folder of 10,000 small generated images opens, serves rounds and resumes; its start-up time and
peak memory are measured by benchmarks/bench_folder_start.py, not asserted here."""

from __future__ import annotations

import pytest
from folder_files import make_folder

from imagearena.arena import folder as ranker
from imagearena.arena.matches import serve_match
from imagearena.arena.runtime import Arena
from imagearena.settings import Settings


@pytest.mark.slow
def test_ten_thousand_images_open_serve_and_resume(tmp_path, sqlite_url):
    arena = Arena(Settings(data_dir=tmp_path / "data", db_url=sqlite_url))  # SQLite: the default state
    try:
        _open_serve_and_resume(arena, tmp_path)
    finally:
        arena.close()


def _open_serve_and_resume(arena, tmp_path):
    root = tmp_path / "big"
    names = make_folder(root, 10_000, subfolders=10)
    opened = ranker.open_folder(arena, root, round_type="order4")
    assert (opened.images, opened.sync.added, opened.skipped) == (10_000, 10_000, [])
    match = serve_match(arena, opened.study)
    assert len(match.images) == 4
    (root / names[0]).unlink()
    again = ranker.open_folder(arena, root, round_type="order4")
    assert (again.created, again.images, again.sync.added, again.sync.missing) == (False, 9_999, 0, 1)
    state = ranker.folder_state(arena, opened.study)
    assert (state.images, state.missing) == (9_999, 1)
