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


@pytest.mark.parametrize("prerank_first", [True, False])
def test_a_preranked_folder_serves_images_the_score_finds_close_first(
    make_arena, tmp_path, tiny_scorer, prerank_first
):
    from functools import partial

    from imagearena.arena.pool import default_sampler_factory
    from imagearena.ratings.sampling import ActiveSampler

    arena = make_arena()
    assert isinstance(default_sampler_factory(["a", "b"]), ActiveSampler)
    # the default sampler without its uniformly drawn share, so every draw shows the rule's choice
    arena.sampler_factory = partial(ActiveSampler, explore=0.0, seed=0)
    root = tmp_path / "pics"
    root.mkdir()
    reds = (200, 20, 140, 80, 230, 50, 170, 110, 10, 95, 185, 65)
    for k, red in enumerate(reds):
        (root / f"img{k:02d}.png").write_bytes(image_bytes(colour=(red, 0, 0)))
    study = ranker.open_folder(arena, root).study
    if prerank_first:
        ranker.prerank(arena, study, tiny_scorer)
    place = {f"img{k:02d}.png": rank for rank, k in enumerate(sorted(range(len(reds)), key=reds.__getitem__))}
    pool = arena.pools.get(study)
    gaps = []
    for _ in range(10):  # served pairs, as the match route draws them (each booked by the sampler)
        model_a, _, model_b, _, _ = pool.draw()
        gaps.append(abs(place[pool.models[model_a]] - place[pool.models[model_b]]))
    # 11 of the 66 pairs are neighbours in the score's order: without it, about 1 draw in 6
    if prerank_first:
        assert gaps == [1] * 10
    else:
        assert sum(g == 1 for g in gaps) <= 6, gaps
