"""Pre-ranking a folder by a reward scorer (a tiny one registered here, as a third-party scorer would
be): every image is scored once, with its own prompt, and unvoted images are ordered by the score."""

from __future__ import annotations

import pytest
from folder_files import image_bytes

from imagearena.arena import folder as ranker
from imagearena.scorers import scorers


class Brightness:
    """Scores an image by its mean red value; remembers what it was asked."""

    name = "test-brightness"
    seen: list[str] = []

    def score(self, prompts, images):
        Brightness.seen.extend(prompts)
        return [float(sum(im.convert("RGB").getpixel((0, 0))[:1])) for im in images]


@pytest.fixture
def tiny_scorer():
    scorers.register(Brightness.name, Brightness)
    Brightness.seen.clear()
    yield Brightness.name
    scorers._factories.pop(Brightness.name, None)


def test_prerank_orders_unvoted_images_by_score_and_scores_once(make_arena, tmp_path, tiny_scorer):
    arena = make_arena()
    root = tmp_path / "pics"
    root.mkdir()
    for name, red in (("dim.png", 10), ("bright.png", 250), ("mid.png", 120)):
        (root / name).write_bytes(image_bytes(colour=(red, 0, 0)))
    (root / "mid.txt").write_text("a red square")
    study = ranker.open_folder(arena, root).study
    assert [line.image for line in ranker.ranking_lines(arena, study)] == ["bright.png", "dim.png", "mid.png"]

    done = ranker.prerank(arena, study, tiny_scorer)
    assert (done.scored, done.already_scored, done.failed) == (3, 0, [])
    assert [line.image for line in ranker.ranking_lines(arena, study)] == ["bright.png", "mid.png", "dim.png"]
    assert "a red square" in Brightness.seen  # the image's own prompt
    assert sorted(Brightness.seen)[0] == "Rank the images of pics"  # the study's for the others

    (root / "new.png").write_bytes(image_bytes(colour=(200, 0, 0)))
    ranker.open_folder(arena, root)
    again = ranker.prerank(arena, study, tiny_scorer)
    assert (again.scored, again.already_scored) == (1, 3)
    assert [line.image for line in ranker.ranking_lines(arena, study)][:2] == ["bright.png", "new.png"]

    log = tmp_path / "ir.csv"
    log.write_text("Winner,Loser\ndim.png,bright.png\n")
    ranker.import_log(arena, study, log)
    assert ranker.ranking_lines(arena, study)[0].image == "dim.png"  # decisions outrank the score
