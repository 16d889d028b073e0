"""The in-memory match pool of a study: its catalog and pair sampler, cached per process.

Serving a match reads only this cache (no database round trip). A background check of a cheap
version query (epoch, image count, highest image id) every ``ttl_s`` seconds picks up an import or
a reset made by another process; changes made through this process invalidate it at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imagearena.errors import ConflictError, InputError
from imagearena.types import RoundType, Sampler

if TYPE_CHECKING:
    from imagearena.ratings.battles import Battles


@dataclass(frozen=True, slots=True)
class PoolImage:
    image_id: int
    sha256: str
    format: str


# The active sampler's full-covariance mode costs O(models^2) per pair (and its refits O(models^3)),
# on the request's thread; its cost per vote at 30, 100 and 300 models is measured by
# benchmarks/bench_sampling.py (benchmarks/README.md, "bench_sampling.py"). Above this many models
# it keeps a diagonal covariance instead: O(models) per round, so a folder of 10,000 images is served
# actively too (bench_label_efficiency.py prints the cost of a group of four from 10,000 names).
DENSE_SAMPLER_MAX_MODELS = 128


def default_sampler_factory(models: list[str]) -> Sampler[Battles]:
    """The active sampler, in its full-covariance mode while that stays cheap per match."""
    from imagearena.ratings.sampling import make_sampler  # numpy and scipy load with the first pool

    return make_sampler("active", models, dense_max=DENSE_SAMPLER_MAX_MODELS)


class StudyPool:
    """What a study can show: images by (model, prompt), and which prompts each model pair shares."""

    def __init__(
        self,
        *,
        study_id: int,
        name: str,
        epoch: int,
        version: tuple[float, ...],
        images: Iterable[Any],
        sampler_factory: Callable[[list[str]], Sampler[Battles]] = default_sampler_factory,
        rng: random.Random | None = None,
        round_type: str = RoundType.PAIR,
    ) -> None:
        self.study_id, self.name, self.epoch, self.version = study_id, name, epoch, version
        self.round_type = RoundType(round_type)
        self.models: dict[int, str] = {}
        self.prompts: dict[int, str] = {}
        self._images: dict[tuple[int, int], list[PoolImage]] = {}
        prompts_of: dict[int, set[int]] = {}
        for im in images:
            self.models[im.model_id] = im.model
            self.prompts[im.prompt_id] = im.prompt
            self._images.setdefault((im.model_id, im.prompt_id), []).append(
                PoolImage(im.image_id, im.sha256, im.format)
            )
            prompts_of.setdefault(im.model_id, set()).add(im.prompt_id)
        self._prompts_of = {m: frozenset(p) for m, p in prompts_of.items()}
        self.model_ids = {n: i for i, n in self.models.items()}
        # Prompts that at least two models have images for, and those models: the fallback draw.
        models_of: dict[int, list[int]] = {}
        for m, ps in self._prompts_of.items():
            for p in ps:
                models_of.setdefault(p, []).append(m)
        self._shared = {p: ms for p, ms in models_of.items() if len(ms) >= 2}
        self._shared_keys = sorted(self._shared)
        # Prompts that four models have images for: what a four-image round is drawn from.
        self._shared4_keys = sorted(p for p, ms in self._shared.items() if len(ms) >= 4)
        playable = sorted({self.models[m] for ms in self._shared.values() for m in ms})
        self.playable_models = frozenset(playable)
        self._pair_prompts: dict[tuple[int, int], tuple[int, ...]] = {}
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.sampler = sampler_factory(playable) if len(playable) >= 2 else None

    @property
    def playable(self) -> bool:
        return bool(self._shared4_keys if self.round_type is not RoundType.PAIR else self._shared)

    def observe(self, model_a: str, model_b: str, winner: str) -> None:
        if self.sampler is not None and model_a in self.playable_models and model_b in self.playable_models:
            with self._lock:
                self.sampler.observe(model_a, model_b, winner)

    def seed_scores(self, scores: dict[str, float]) -> None:
        """Hand the sampler a guess at the order (a folder's pre-rank scores), where it takes one."""
        seed = getattr(self.sampler, "seed_scores", None)
        if seed is not None:
            with self._lock:
                seed({name: v for name, v in scores.items() if name in self.playable_models})

    def observe_round(self, models: Sequence[str], ranks: Sequence[int], round_type: RoundType) -> None:
        """Learn from a four-image round: the sampler's own multi-way update where it has one, else
        the round's rank-broken pairs."""
        if self.sampler is None or not all(m in self.playable_models for m in models):
            return
        with self._lock:
            observe_round = getattr(self.sampler, "observe_round", None)
            if observe_round is not None:
                observe_round(models, ranks, round_type)
                return
            from imagearena.ratings.rounds import rank_break

            for i, j, outcome in rank_break(round_type, ranks):
                self.sampler.observe(models[i], models[j], outcome.value)

    def choose(self, names: Sequence[str], size: int) -> tuple[str, ...] | None:
        """``size`` of ``names`` as the sampler picks them (a live study's generators), or None when
        it cannot: it knows too few of them, or keeps picking others."""
        allowed = set(names)
        if self.sampler is None or len(allowed & self.playable_models) < size:
            return None
        with self._lock:
            for _ in range(8):
                group = (
                    self.sampler.next_pair() if size == 2 else self.sampler.next_group(size, self.round_type)
                )
                if len(set(group)) == size and allowed.issuperset(group):
                    return tuple(group)
        return None

    def observe_battles(self, battles: Battles) -> None:
        if self.sampler is not None and len(battles):
            with self._lock:
                self.sampler.observe_battles(battles)

    def _common(self, a: int, b: int) -> tuple[int, ...]:
        key = (a, b) if a < b else (b, a)
        found = self._pair_prompts.get(key)
        if found is None:
            found = tuple(sorted(self._prompts_of.get(a, frozenset()) & self._prompts_of.get(b, frozenset())))
            self._pair_prompts[key] = found
        return found

    def draw(self) -> tuple[int, PoolImage, int, PoolImage, int]:
        """(left model, left image, right model, right image, prompt): two different models, one prompt,
        random left/right order."""
        if not self._shared:
            raise InputError(
                f"study {self.name!r} has no prompt with images from two different models yet: "
                "import images (imagearena import-folder DIR --study NAME) first"
            )
        rng = self._rng
        with self._lock:
            pair = None
            if self.sampler is not None:
                for _ in range(8):
                    a_name, b_name = self.sampler.next_pair()
                    a, b = self.model_ids.get(a_name), self.model_ids.get(b_name)
                    if a is not None and b is not None and a != b:
                        common = self._common(a, b)
                        if common:
                            pair = (a, b, rng.choice(common))
                            break
            if pair is None:
                prompt = rng.choice(self._shared_keys)
                a, b = rng.sample(self._shared[prompt], 2)
                pair = (a, b, prompt)
            a, b, prompt = pair
            if rng.random() < 0.5:
                a, b = b, a
            left = rng.choice(self._images[(a, prompt)])
            right = rng.choice(self._images[(b, prompt)])
        return a, left, b, right, prompt

    def draw_group(self, size: int = 4) -> tuple[list[int], list[PoolImage], int]:
        """(models, images, prompt) of a four-image round: ``size`` different models with images for
        one prompt, in random display order. The sampler chooses the models where it can
        (``next_group``), else the prompt and the models are drawn uniformly."""
        if not self._shared4_keys:
            raise ConflictError(
                f"study {self.name!r} shows {size} images a round but has no prompt with images from "
                f"{size} different models: import images of more models, or use pair rounds"
            )
        rng = self._rng
        with self._lock:
            chosen: tuple[list[int], int] | None = None
            next_group = getattr(self.sampler, "next_group", None)
            if next_group is not None and len(self.playable_models) >= size:
                for _ in range(8):
                    ids = [self.model_ids.get(n) for n in next_group(size, self.round_type)]
                    group = [m for m in ids if m is not None]
                    if len(set(group)) == size:
                        common = frozenset.intersection(*(self._prompts_of[m] for m in group))
                        if common:
                            chosen = (group, rng.choice(sorted(common)))
                            break
            if chosen is None:
                prompt = rng.choice(self._shared4_keys)
                chosen = (rng.sample(self._shared[prompt], size), prompt)
            models, prompt = chosen
            models = list(models)
            rng.shuffle(models)
            images = [rng.choice(self._images[(m, prompt)]) for m in models]
        return models, images, prompt


class PoolCache:
    """One StudyPool per study name, per process.

    A request never waits for the database once a study's pool is loaded: when the pool is older than
    ``ttl_s``, a background thread compares the catalog version (epoch, image count, highest image id)
    and swaps in a reloaded pool if it changed, while requests keep using the current one.
    """

    def __init__(
        self,
        loader: Callable[[str], StudyPool],
        version_of: Callable[[int], tuple[float, ...]],
        ttl_s: float = 5.0,
    ) -> None:
        self._loader = loader
        self._version_of = version_of
        self.ttl_s = ttl_s
        self._pools: dict[str, tuple[StudyPool, float]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, study: str) -> StudyPool:
        entry = self._pools.get(study)
        if entry is not None:
            pool, checked = entry
            if time.monotonic() - checked >= self.ttl_s:
                self._refresh_in_background(study, pool)
            return pool
        with self._lock:  # the first load: one thread queries, the others wait for it
            entry = self._pools.get(study)
            if entry is not None:
                return entry[0]
            pool = self._loader(study)
            self._pools[study] = (pool, time.monotonic())
            return pool

    def _refresh_in_background(self, study: str, pool: StudyPool) -> None:
        with self._lock:
            if study in self._refreshing or self._pools.get(study, (None, 0.0))[0] is not pool:
                return
            self._refreshing.add(study)
            self._pools[study] = (pool, time.monotonic())
        threading.Thread(target=self._refresh, args=(study, pool), name=f"pool-{study}", daemon=True).start()

    def _refresh(self, study: str, pool: StudyPool) -> None:
        try:
            if self._version_of(pool.study_id) != pool.version:
                fresh = self._loader(study)
                with self._lock:
                    if self._pools.get(study, (None, 0.0))[0] is pool:
                        self._pools[study] = (fresh, time.monotonic())
        except Exception:  # keep serving the current pool; the next check retries
            logging.getLogger("imagearena.arena").exception("reloading the match pool of %r failed", study)
        finally:
            with self._lock:
                self._refreshing.discard(study)

    def peek(self, study_id: int) -> StudyPool | None:
        for pool, _ in list(self._pools.values()):
            if pool.study_id == study_id:
                return pool
        return None

    def invalidate(self, study: str | None = None) -> None:
        """Forget a study's pool (after a change made through this process): the next request reloads it."""
        with self._lock:
            if study is None:
                self._pools.clear()
            else:
                self._pools.pop(study, None)
