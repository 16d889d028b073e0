"""Bulk runs on a Ray cluster: the same plan, units and storage as in one process (imagearena.arena.bulk),
with generation and scoring done by Ray actors that each load their model once.

Each generator entry gets ``workers`` actors while images are made, and each scorer ``workers`` actors
while it scores; an actor takes one GPU when the cluster has enough of them, else an equal share of the
GPUs or, on a CPU-only cluster, of the CPUs. The driver hands work to idle actors and writes every image
and score itself, through the storage a local run uses (PostgreSQL when several hosts share the run's
results), so the units, the resume and the retries are the local run's. ``ray`` is imported only here,
and only when a run asks for it (the ``ray`` extra).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from imagearena.errors import InputError, MissingDependencyError
from imagearena.generators.errors import GeneratorError
from imagearena.media import Limits, MediaStore
from imagearena.types import GeneratedImage, GenerationRequest

if TYPE_CHECKING:
    from imagearena.arena.bulk import BulkPlan
    from imagearena.generators.config import GeneratorConfig
    from imagearena.storage.bulk import ImageRow
    from imagearena.types import Generator


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("bulk runs on Ray (--ray)", "ray", "ray") from None
    return ray


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto``: the one this machine belongs to; ``local``: a new
    instance on this machine), unless this process is connected already."""
    ray = _ray()
    if ray.is_initialized():
        return
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"cannot reach a Ray cluster at {address!r} ({exc}): start one with `ray start --head`, "
            "pass its address (HOST:6379 or ray://HOST:10001), or --ray local for one on this machine"
        ) from None


class GeneratorWorker:
    """A Ray actor holding one generator entry's backend, built once from ``factory(config)``."""

    def __init__(self, factory: Callable[[GeneratorConfig], Generator], config: GeneratorConfig) -> None:
        self.generator = factory(config)

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        return self.generator.generate(request)

    def close(self) -> None:
        close = getattr(self.generator, "close", None)
        if callable(close):
            close()


class ScorerWorker:
    """A Ray actor holding one scorer, built once from ``factory(**options)``: scores encoded images."""

    def __init__(self, factory: Callable[..., Any], options: Mapping[str, Any], limits: Limits) -> None:
        self.scorer = factory(**dict(options))
        self.limits = limits

    def score(self, prompts: Sequence[str], blobs: Sequence[bytes]) -> list[float]:
        from imagearena.media import decode_image
        from imagearena.scorers.io import ScoreItem, score_items

        items = [
            ScoreItem(image=decode_image(blob, self.limits), prompt=prompt)
            for prompt, blob in zip(prompts, blobs, strict=True)
        ]
        results = score_items(self.scorer, items, batch_size=max(1, len(items)), workers=0)
        return [float(r.score) if r.score is not None else float("nan") for r in results]


def _unwrap(exc: BaseException) -> BaseException:
    """The error a remote call raised, as this process would have raised it."""
    ray = _ray()
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            return cause
    if isinstance(exc, ray.exceptions.RayError):
        return GeneratorError(f"a Ray worker failed: {str(exc).strip().splitlines()[0] if str(exc) else exc}")
    return exc


class _Actors:
    """Idle actors of one lane: a call takes one, waits for its answer and gives it back. An actor whose
    process died (out of memory, a crash in native code) is replaced by a new one, and the call that
    met it fails like any other, to be retried."""

    def __init__(self, spawn: Callable[[], Any], count: int) -> None:
        self.spawn = spawn
        self.handles = [spawn() for _ in range(count)]
        self.idle: queue.Queue[Any] = queue.Queue()
        self.lock = threading.Lock()
        for handle in self.handles:
            self.idle.put(handle)

    def call(self, method: str, *args: Any) -> Any:
        ray = _ray()
        actor = self.idle.get()
        try:
            return ray.get(getattr(actor, method).remote(*args))
        except ray.exceptions.RayActorError as exc:
            actor = self._replace(actor)
            raise _unwrap(exc) from None
        except Exception as exc:
            raise _unwrap(exc) from None
        finally:
            self.idle.put(actor)

    def _replace(self, dead: Any) -> Any:
        with self.lock:
            fresh = self.spawn()
            self.handles = [fresh if h is dead else h for h in self.handles]
        return fresh

    def kill(self) -> None:
        ray = _ray()
        with self.lock:
            for handle in self.handles:
                ray.kill(handle)
            self.handles = []


class RemoteGenerator:
    """What generation.run sees of a generator entry on the cluster: ``generate`` runs on an idle actor."""

    def __init__(self, name: str, actors: _Actors) -> None:
        self.name = name
        self.actors = actors

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        images: list[GeneratedImage] = self.actors.call("generate", request)
        return images

    def close(self) -> None:
        self.actors.kill()


class RayBackend:
    """A bulk run's work on a Ray cluster (see the module docstring); ``workers`` actors per generator
    and per scorer (default: one per GPU, else 2)."""

    def __init__(
        self,
        address: str,
        plan: BulkPlan,
        store: MediaStore,
        *,
        workers: int | None = None,
        scorer_options: Mapping[str, Any] | None = None,
        limits: Limits = Limits(),
    ) -> None:
        connect(address)
        ray = _ray()
        resources = ray.cluster_resources()
        self.gpus = float(resources.get("GPU", 0.0))
        self.cpus = float(resources.get("CPU", 1.0))
        if workers is not None and not 1 <= workers <= 1024:
            raise InputError(f"--ray-workers must be 1 to 1024, not {workers}")
        self.workers = workers or (int(self.gpus) if self.gpus >= 1 else 2)
        self.parallel = self.workers
        self.store = store
        self.scorer_options = dict(scorer_options or {})
        self.limits = limits
        self.lanes = max(1, len(plan.generators))
        self._scorers: dict[str, _Actors] = {}
        self._lock = threading.Lock()

    def resources(self, actors: int) -> dict[str, float]:
        """One actor's share when ``actors`` run at once: a whole GPU where there are enough, else an
        equal part of the GPUs, or of the CPUs on a cluster without GPUs."""
        if self.gpus > 0:
            return {"num_gpus": min(1.0, self.gpus / actors), "num_cpus": 0.0}
        return {"num_cpus": min(1.0, self.cpus / actors)}

    def make_generator(self, config: GeneratorConfig) -> Generator:
        from imagearena.generators import generators

        ray = _ray()
        factory = generators.factory(config.backend)
        remote = ray.remote(GeneratorWorker).options(**self.resources(self.lanes * self.workers))
        return RemoteGenerator(config.name, _Actors(lambda: remote.remote(factory, config), self.workers))

    def _scorer(self, name: str) -> _Actors:
        with self._lock:
            return self._scorer_locked(name)

    def _scorer_locked(self, name: str) -> _Actors:
        if name not in self._scorers:
            from imagearena.scorers import scorers

            ray = _ray()
            for other in list(self._scorers):  # one scorer's actors at a time hold the devices
                self._scorers.pop(other).kill()
            factory = scorers.factory(name)
            remote = ray.remote(ScorerWorker).options(**self.resources(self.workers))
            options, limits = self.scorer_options, self.limits
            self._scorers[name] = _Actors(lambda: remote.remote(factory, options, limits), self.workers)
        return self._scorers[name]

    def score(self, scorer: str, images: Sequence[ImageRow]) -> list[float]:
        blobs = [self.store.read(im.sha256) for im in images]
        values: list[float] = self._scorer(scorer).call("score", [im.prompt for im in images], blobs)
        return values

    def close(self) -> None:
        for actors in self._scorers.values():
            actors.kill()
        self._scorers.clear()
