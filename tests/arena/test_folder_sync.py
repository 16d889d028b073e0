"""Opening a folder ranking: the study is found again by the folder's path, and files added, changed
or removed since the last run are noticed."""

from __future__ import annotations

import os

import pytest
from folder_files import bomb_png, image_bytes, make_folder

from imagearena.arena import folder as ranker
from imagearena.errors import InputError
from imagearena.types import RoundType, StudyKind


@pytest.fixture
def arena(make_arena):
    return make_arena()


def _tree(root):
    return sorted((p.relative_to(root).as_posix(), p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_a_folder_becomes_a_study_of_its_images_and_nothing_is_written_inside(arena, tmp_path):
    root = tmp_path / "pics"
    names = make_folder(root, 5, subfolders=2)
    (root / "bad.png").write_bytes(bomb_png())
    before = _tree(root)
    opened = ranker.open_folder(arena, root, round_type="best4")
    assert opened.created and opened.images == 5
    assert opened.sync.added == 5
    assert [(s.name, s.reason) for s in opened.skipped] == [("bad.png", "too-many-pixels")]
    assert opened.study == ranker.study_name_for(root.resolve())
    state = ranker.folder_state(arena, opened.study)
    assert (state.images, state.missing, state.decisions, state.round_type) == (5, 0, 0, RoundType.BEST4)
    assert state.source == str(root.resolve())
    assert [line.image for line in ranker.ranking_lines(arena, opened.study)] == names
    from imagearena.arena.studies import study_detail

    assert study_detail(arena, opened.study).summary.kind == StudyKind.FOLDER
    assert _tree(root) == before


def test_rerunning_resumes_and_notices_added_changed_removed_and_returned_files(arena, tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 4)
    first = ranker.open_folder(arena, root)
    again = ranker.open_folder(arena, str(root) + "/")  # the same folder however it is spelled
    assert (again.study, again.created, again.sync) == (first.study, False, again.sync.__class__())

    (root / "img00000.png").unlink()
    (root / "new.png").write_bytes(image_bytes(colour=(1, 2, 3)))
    changed = root / "img00001.png"
    stamp = changed.stat().st_mtime_ns
    changed.write_bytes(image_bytes(size=(9, 9)))
    os.utime(changed, ns=(stamp + 10**9, stamp + 10**9))
    later = ranker.open_folder(arena, root, round_type="order4")
    assert (later.sync.added, later.sync.changed, later.sync.missing) == (1, 1, 2)  # gone + old version
    state = ranker.folder_state(arena, first.study)
    assert (state.images, state.missing, state.round_type) == (4, 1, RoundType.ORDER4)
    assert "img00000.png" not in {line.image for line in ranker.ranking_lines(arena, first.study)}

    (root / "img00000.png").write_bytes(image_bytes(colour=(0, 0, 99)))  # back, but not the same file
    (root / "new.png").unlink()
    back = ranker.open_folder(arena, root)  # no mode given: the ranking keeps the one it had
    assert (back.sync.added, back.sync.changed, back.sync.missing) == (0, 1, 1)
    assert back.round_type is RoundType.ORDER4
    assert ranker.folder_state(arena, first.study).round_type is RoundType.ORDER4


def test_a_file_put_back_unchanged_is_the_same_image_again(arena, tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 3)
    ranker.open_folder(arena, root)
    os.rename(root / "img00002.png", tmp_path / "aside.png")
    assert ranker.open_folder(arena, root).sync.missing == 1
    os.rename(tmp_path / "aside.png", root / "img00002.png")  # same size and modification time
    assert ranker.open_folder(arena, root).sync.returned == 1


def test_two_folders_with_one_name_are_two_rankings(arena, tmp_path):
    make_folder(tmp_path / "a" / "out", 2)
    make_folder(tmp_path / "b" / "out", 2)
    first = ranker.open_folder(arena, tmp_path / "a" / "out")
    second = ranker.open_folder(arena, tmp_path / "b" / "out")
    assert first.study != second.study and first.study.startswith("folder-out-")


def test_prompts_shared_by_every_image_are_the_studys_prompt(arena, tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 2)
    (root / "prompts.csv").write_text("file,prompt\nimg00000.png,a cat\nimg00001.png,a cat\n")
    opened = ranker.open_folder(arena, root)
    from imagearena.arena.studies import study_detail

    assert study_detail(arena, opened.study).prompts == ["a cat"]
    other = tmp_path / "mixed"
    make_folder(other, 2)
    (other / "img00000.txt").write_text("a dog")
    mixed = ranker.open_folder(arena, other)
    assert study_detail(arena, mixed.study).prompts == ["Rank the images of mixed"]
    assert ranker.image_prompts(arena, mixed.study) == {"img00000.png": "a dog"}


def test_a_data_dir_inside_the_folder_is_refused(make_arena, tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 2)
    arena = make_arena(data_dir=root / "state")
    with pytest.raises(InputError, match="nothing is written there"):
        ranker.open_folder(arena, root)
    assert not (root / "state" / "thumbs").exists()


def test_an_unknown_mode_or_folder_is_a_clear_error(arena, tmp_path):
    with pytest.raises(InputError, match="unknown mode"):
        ranker.open_folder(arena, tmp_path, round_type="best8")
    with pytest.raises(InputError, match="no such folder"):
        ranker.open_folder(arena, tmp_path / "nope")
