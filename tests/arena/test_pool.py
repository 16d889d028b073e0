"""The in-memory match pool: two different models, one prompt both have images for, random sides."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from imagearena.arena.pool import PoolCache, StudyPool
from imagearena.errors import InputError
from imagearena.ratings.sampling import UniformSampler
from imagearena.storage.catalog import CatalogImage


def img(image_id, model_id, prompt_id):
    return CatalogImage(
        image_id, model_id, f"m{model_id}", prompt_id, f"prompt {prompt_id}", f"{image_id:064x}", "PNG"
    )


def make_pool(images, sampler_factory=UniformSampler, seed=0):
    return StudyPool(
        study_id=1,
        name="s",
        epoch=0,
        version=(0, len(images), 0),
        images=images,
        sampler_factory=sampler_factory,
        rng=random.Random(seed),
    )


def test_draw_pairs_two_models_on_a_prompt_both_have():
    # m1 and m2 share prompt 1; m3 only has prompt 2, which m2 also has; m4 has a prompt nobody shares.
    images = [img(1, 1, 1), img(2, 2, 1), img(3, 2, 2), img(4, 3, 2), img(5, 4, 9)]
    pool = make_pool(images)
    owner = {im.image_id: (im.model_id, im.prompt_id) for im in images}
    seen = Counter()
    for _ in range(500):
        a, left, b, right, prompt = pool.draw()
        assert a != b
        assert owner[left.image_id] == (a, prompt)
        assert owner[right.image_id] == (b, prompt)
        seen[(a, b)] += 1
    assert 4 not in {m for pair in seen for m in pair}  # nothing to compare it with
    assert pool.playable_models == {"m1", "m2", "m3"}
    # both sides of each possible pair occur: the left/right order is random
    assert {(1, 2), (2, 1), (2, 3), (3, 2)} == set(seen)


def test_left_right_order_is_balanced():
    pool = make_pool([img(1, 1, 1), img(2, 2, 1)], seed=1)
    lefts = Counter(pool.draw()[0] for _ in range(2000))
    assert 900 < lefts[1] < 1100


def test_sampler_choice_is_followed_when_it_has_a_shared_prompt():
    class Always:
        def __init__(self, models):
            self.models = models
            self.observed = []

        def next_pair(self):
            return "m3", "m1"

        def observe(self, a, b, w):
            self.observed.append((a, b, w))

    images = [img(i * 10 + p, i, p) for i in (1, 2, 3) for p in (1, 2)]
    pool = make_pool(images, sampler_factory=Always)
    for _ in range(50):
        a, _, b, _, _ = pool.draw()
        assert {a, b} == {1, 3}
    pool.observe("m1", "m3", "tie")
    assert pool.sampler.observed == [("m1", "m3", "tie")]


def test_sampler_pairs_without_a_shared_prompt_fall_back_to_a_valid_pair():
    class Useless:
        def __init__(self, models):
            pass

        def next_pair(self):
            return "m1", "m3"  # they share no prompt

    pool = make_pool([img(1, 1, 1), img(2, 2, 1), img(3, 3, 2), img(4, 2, 2)], sampler_factory=Useless)
    for _ in range(50):
        a, left, b, right, prompt = pool.draw()
        assert {a, b} in ({1, 2}, {2, 3})


def test_a_study_without_comparable_images_says_what_to_do():
    pool = make_pool([img(1, 1, 1), img(2, 1, 2), img(3, 2, 3)])
    with pytest.raises(InputError, match="import-folder"):
        pool.draw()


def test_active_sampler_is_the_default_when_available():
    from imagearena.arena.pool import default_sampler_factory
    from imagearena.ratings.sampling import ActiveSampler

    few = default_sampler_factory(["a", "b"])
    assert isinstance(few, ActiveSampler) and few.dense_max < 200
    # a large pool (a folder of images) is served actively too, with the diagonal covariance that
    # keeps a round O(names)
    many = default_sampler_factory([f"m{i}" for i in range(200)])
    assert isinstance(many, ActiveSampler) and not many._dense
    assert len(set(many.next_group(4))) == 4


def test_pool_cache_reloads_in_the_background_only_when_the_version_changes():
    import time

    loads = []
    version = [(0, 2, 2)]

    def loader(name):
        loads.append(name)
        return StudyPool(
            study_id=1, name=name, epoch=0, version=version[0], images=[img(1, 1, 1), img(2, 2, 1)]
        )

    cache = PoolCache(loader, lambda study_id: version[0], ttl_s=0)
    first = cache.get("s")
    assert cache.get("s") is first
    time.sleep(0.2)
    assert cache.get("s") is first and loads == ["s"]  # checked, unchanged: not reloaded
    version[0] = (0, 3, 3)  # an import made by another process
    assert cache.get("s") is first  # the request does not wait for the reload
    deadline = time.time() + 5
    while cache.get("s") is first and time.time() < deadline:
        time.sleep(0.01)
    assert cache.get("s") is not first and loads == ["s", "s"]
    assert cache.peek(1) is not None
    cache.invalidate("s")
    cache.get("s")
    assert loads == ["s", "s", "s"]


def test_pool_cache_keeps_serving_when_a_reload_fails():
    import time

    calls = []

    def loader(name):
        calls.append(name)
        if len(calls) > 1:
            raise RuntimeError("database unreachable")
        return StudyPool(study_id=1, name=name, epoch=0, version=(0,), images=[img(1, 1, 1), img(2, 2, 1)])

    cache = PoolCache(loader, lambda study_id: (1,), ttl_s=0)
    first = cache.get("s")
    for _ in range(20):
        assert cache.get("s") is first
        time.sleep(0.01)
    assert len(calls) >= 2
