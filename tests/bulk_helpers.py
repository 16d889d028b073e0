"""Tiny scorers and a counting generator for the bulk-run tests, registered as a plug-in would be.

Every call is counted in the process (class attributes) and, when ``BULK_TEST_LOG`` names a file, as one
line appended there, so calls made by Ray workers in other processes are counted too."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from imagearena.generators import generators
from imagearena.generators.procedural import ProceduralGenerator
from imagearena.scorers import scorers

LOG_ENV = "BULK_TEST_LOG"
#: Set in the environment of a child process (the CLI in a subprocess, a Ray worker): importing this
#: module there registers the plug-ins. The test process registers them per test instead (``plugins``),
#: so they never leak into other tests' registry listings.
REGISTER_ENV = "BULK_TEST_REGISTER"
#: A file whose absence makes DiesOnce end its process (then it creates the file, so it dies once).
DIE_ENV = "BULK_TEST_DIE_MARKER"
#: Seconds each generated image takes (a slow generator, for a run killed from outside).
DELAY_ENV = "BULK_TEST_DELAY"
_lock = threading.Lock()


def _log(kind: str, *key: object) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        line = json.dumps([kind, *key]) + "\n"
        with _lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(line)


def read_log(path: str) -> list[list[object]]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def mean_pixel(image) -> float:
    """The image's mean RGB value over 0..1: what the brightness scorer answers."""
    import numpy as np

    return float(np.asarray(image.convert("RGB"), dtype=np.float64).mean() / 255.0)


class Brightness:
    """Scores an image by its mean pixel value; counts each image it scores by (prompt, value). With
    ``interrupt_after`` set, the call that would pass that many images raises KeyboardInterrupt (a
    killed run); prompts in ``poison`` make every batch holding one raise (a crashing scorer)."""

    name = "test-brightness"
    calls: Counter[tuple[str, str, float]] = Counter()
    batches = 0
    interrupt_after: int | None = None
    poison: set[str] = set()

    def __init__(self, **options: object) -> None:
        self.options = options

    def score(self, prompts, images):
        cls = type(self)
        with _lock:
            cls.batches += 1
            seen = sum(cls.calls.values())
        if cls.interrupt_after is not None and seen + len(images) > cls.interrupt_after:
            raise KeyboardInterrupt
        if cls.poison & set(prompts):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        values = [mean_pixel(im) for im in images]
        with _lock:
            for prompt, value in zip(prompts, values, strict=True):
                cls.calls[(cls.name, prompt, round(value, 9))] += 1
        for prompt, value in zip(prompts, values, strict=True):
            _log("score", cls.name, prompt, round(value, 9))
        return values

    @classmethod
    def reset(cls) -> None:
        cls.calls = Counter()
        cls.batches = 0
        cls.interrupt_after = None
        cls.poison = set()


class Redness(Brightness):
    """Scores an image by its mean red value: a second scorer with other opinions."""

    name = "test-redness"
    calls: Counter[tuple[str, str, float]] = Counter()
    poison: set[str] = set()

    def score(self, prompts, images):
        import numpy as np

        values = [float(np.asarray(im.convert("RGB"))[..., 0].mean() / 255.0) for im in images]
        with _lock:
            for prompt, value in zip(prompts, values, strict=True):
                type(self).calls[(self.name, prompt, round(value, 9))] += 1
        for prompt, value in zip(prompts, values, strict=True):
            _log("score", self.name, prompt, round(value, 9))
        return values


class DiesOnce(Brightness):
    """The brightness scorer, except that its first call in any process ends that process (as an out of
    memory kill would) when ``BULK_TEST_DIE_MARKER`` names a file that does not exist yet."""

    name = "test-dies-once"
    calls: Counter[tuple[str, str, float]] = Counter()

    def score(self, prompts, images):
        marker = os.environ.get(DIE_ENV)
        if marker and not os.path.exists(marker):
            with open(marker, "w"):
                pass
            os._exit(1)
        return super().score(prompts, images)


class CountingGenerator(ProceduralGenerator):
    """The procedural generator (``style`` from the entry), counting each image it makes by
    (entry, prompt, seed); ``fail_first`` makes the first try of each listed prompt fail, ``interrupt_after``
    raises KeyboardInterrupt on the call that would pass that many images."""

    calls: Counter[tuple[str, str, int]] = Counter()
    tries: Counter[tuple[str, str, int]] = Counter()
    fail_first: set[str] = set()
    fail_always: set[str] = set()
    crash: set[str] = set()
    interrupt_after: int | None = None

    def generate(self, request):
        from imagearena.generators.errors import GeneratorUnavailable

        cls = CountingGenerator
        key = (self.name, request.prompt, request.seed)
        with _lock:
            cls.tries[key] += 1
            first = cls.tries[key] == 1
            made = sum(cls.calls.values())
        if cls.interrupt_after is not None and made + request.n > cls.interrupt_after:
            raise KeyboardInterrupt
        if request.prompt in cls.fail_always or (first and request.prompt in cls.fail_first):
            raise GeneratorUnavailable(f"generator {self.name!r}: the service answered 503")
        delay = float(os.environ.get(DELAY_ENV) or 0)
        if delay:
            import time

            time.sleep(delay * request.n)
        if request.prompt in cls.crash:
            raise ValueError("low >= high")  # a backend's own bug, not one of its errors
        images = super().generate(request)
        with _lock:
            for k in range(request.n):
                cls.calls[(self.name, request.prompt, request.seed + k)] += 1
        for k in range(request.n):
            _log("generate", self.name, request.prompt, request.seed + k)
        return images

    @classmethod
    def reset(cls) -> None:
        cls.calls = Counter()
        cls.tries = Counter()
        cls.fail_first = set()
        cls.fail_always = set()
        cls.crash = set()
        cls.interrupt_after = None


COUNTING_BACKEND = "test-counting"


def register() -> None:
    scorers.register(Brightness.name, Brightness)
    scorers.register(Redness.name, Redness)
    scorers.register(DiesOnce.name, DiesOnce)
    generators.register(COUNTING_BACKEND, CountingGenerator)


def unregister() -> None:
    scorers._factories.pop(Brightness.name, None)
    scorers._factories.pop(Redness.name, None)
    scorers._factories.pop(DiesOnce.name, None)
    generators._factories.pop(COUNTING_BACKEND, None)


def reset() -> None:
    Brightness.reset()
    Redness.calls = Counter()
    CountingGenerator.reset()


@contextmanager
def plugins() -> Iterator[None]:
    """The plug-ins registered, with fresh counters, for the length of a test."""
    register()
    reset()
    try:
        yield
    finally:
        reset()
        unregister()


if os.environ.get(REGISTER_ENV):
    register()
