"""The match pool's four-image draws: four different models with images for one prompt, each image of
its model, the sampler's groups where it has them and uniform ones where it has not."""

from __future__ import annotations

import random
from collections import namedtuple

import pytest

from imagearena.arena.pool import StudyPool
from imagearena.errors import ConflictError

Im = namedtuple("Im", "image_id model_id model prompt_id prompt sha256 format")


def _pool(models: int, prompts_of=lambda m: (0, 1), **kw) -> StudyPool:
    images = [
        Im(m * 10 + p, m, f"m{m}", p, f"p{p}", f"{m}{p}" * 32, "PNG")
        for m in range(models)
        for p in prompts_of(m)
    ]
    return StudyPool(study_id=1, name="s", epoch=0, version=(0,), images=images, round_type="best4", **kw)


@pytest.mark.parametrize("sampler", ["active", "uniform", None])
def test_a_group_is_four_models_on_one_prompt_in_random_order(sampler):
    from imagearena.ratings.sampling import make_sampler

    factory = (lambda names: make_sampler(sampler, names)) if sampler else (lambda names: object())
    pool = _pool(
        6, prompts_of=lambda m: (0, 1) if m < 4 else (1,), sampler_factory=factory, rng=random.Random(2)
    )
    groups, orders = set(), set()
    for _ in range(300):
        models, images, prompt = pool.draw_group(4)
        assert len(set(models)) == 4
        assert all(im.image_id == m * 10 + prompt for im, m in zip(images, models, strict=True))
        groups.add(frozenset(models))
        orders.add(tuple(models))
        if sampler:
            pool.observe_round([pool.models[m] for m in models], (1, 2, 2, 2), "best4")
    assert len(groups) > 5 and len(orders) > 20  # several groups, each shown in several orders


def test_a_study_without_four_models_on_a_prompt_cannot_draw_a_group():
    pool = _pool(5, prompts_of=lambda m: (m % 2,))  # at most three models share a prompt
    assert not pool.playable
    with pytest.raises(ConflictError, match="no prompt with images from 4 different models"):
        pool.draw_group(4)
