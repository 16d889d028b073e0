"""Every registry, parametrized over its own names (open_clip style): each registered backend builds
and satisfies the Protocol of its kind, so a new entry is tested without new test code."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from imagearena.generators import generators
from imagearena.ratings.battles import Battles
from imagearena.ratings.methods import FitOptions, rating_methods
from imagearena.ratings.sampling import samplers
from imagearena.registry import Registry
from imagearena.types import Generator, Outcome, RatingFit, RatingMethod, Sampler

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
MODELS = ["flux", "sdxl", "sd15"]


def _folder_kwargs(tmp_path: Path) -> dict[str, Any]:
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "cat.png")
    (tmp_path / "cat.txt").write_text("a red cat")
    return {"path": tmp_path}


#: Generators that reach a service: built here (no I/O until used), exercised against stub servers in
#: tests/generators.
NETWORK_GENERATORS = ("openai", "a1111", "comfyui")
#: Their model, where building needs one.
NETWORK_MODELS = {
    "google": "gemini-2.5-flash-image",
    "vertex-endpoint": "projects/p/locations/us-central1/endpoints/1",
}
#: Generators that load a model into this process: built here (nothing loads until used), exercised on a
#: tiny pipeline in tests/generators.
MODEL_GENERATORS = {"diffusers": "some/pipeline"}


def _network_kwargs(backend: str) -> Callable[[Path], dict[str, Any]]:
    from imagearena.generators.config import GeneratorConfig

    model = NETWORK_MODELS.get(backend) or MODEL_GENERATORS.get(backend)
    return lambda _: {
        "config": GeneratorConfig(
            name=f"test-{backend}", backend=backend, model=model, base_url="http://127.0.0.1:9"
        )
    }


#: How to build each registered backend in a test; a new entry without a recipe fails below.
BUILD: dict[str, dict[str, Callable[[Path], dict[str, Any]]]] = {
    "sampler": {name: lambda _: {"models": MODELS, "seed": 0} for name in ("uniform", "active")},
    "rating method": {name: lambda _: {} for name in RatingMethod},
    "generator": {
        "procedural": lambda _: {},
        "folder": _folder_kwargs,
        **{name: _network_kwargs(name) for name in (*NETWORK_GENERATORS, *NETWORK_MODELS, *MODEL_GENERATORS)},
    },
}
REGISTRIES: dict[str, tuple[Registry[Any], type]] = {
    "sampler": (samplers, Sampler),
    "rating method": (rating_methods, RatingFit),
    "generator": (generators, Generator),
}
ENTRIES = [(kind, name) for kind, (registry, _) in REGISTRIES.items() for name in registry.names()]


def _battles() -> Battles:
    return Battles.from_records(
        ["flux", "flux", "sdxl", "sd15"],
        ["sdxl", "sd15", "sd15", "flux"],
        [Outcome.MODEL_A, Outcome.MODEL_A, Outcome.TIE, Outcome.BOTH_BAD],
    )


def _entry_backend(generator: Any) -> str | None:
    """The backend name of a generator built from a generators-file entry."""
    return getattr(getattr(generator, "config", None), "backend", None)


def _exercise(kind: str, backend: Any) -> None:
    """Use the backend once through its Protocol."""
    if kind == "sampler":
        backend.observe_battles(_battles())
        backend.observe("flux", "sd15", Outcome.MODEL_B)
        a, b = backend.next_pair()
        assert {a, b} <= set(MODELS) and a != b
        assert 0.0 < backend.pair_probability(a, b) <= 1.0
    elif kind == "rating method":
        rows = backend.fit(_battles(), FitOptions())
        assert sorted(r.model for r in rows) == sorted(MODELS) and rows[0].rank == 1
    elif getattr(backend, "base_url", None) is None and _entry_backend(backend) not in MODEL_GENERATORS:
        from imagearena.media import inspect_image
        from imagearena.types import GenerationRequest

        [image] = backend.generate(GenerationRequest("a red cat", seed=0))
        assert inspect_image(image.data).width > 0


@pytest.mark.parametrize(("kind", "name"), ENTRIES, ids=[f"{k}:{n}" for k, n in ENTRIES])
def test_every_registered_backend_builds_and_satisfies_its_protocol(
    kind: str, name: str, tmp_path: Path
) -> None:
    registry, protocol = REGISTRIES[kind]
    recipe = BUILD[kind].get(name)
    assert recipe is not None, f"add a build recipe for the {kind} {name!r} to BUILD"
    backend = registry.create(name, **recipe(tmp_path))
    assert isinstance(backend, protocol)
    _exercise(kind, backend)


def test_every_rating_method_of_the_vocabulary_is_registered() -> None:
    assert set(RatingMethod) <= set(rating_methods.names())


def test_a_missing_method_fails_the_protocol_check() -> None:
    """The check above is not vacuous: a backend lacking a method is refused."""

    class Incomplete:
        def next_pair(self) -> tuple[str, str]:
            return "a", "b"

    assert not isinstance(Incomplete(), Sampler)
    assert not isinstance(Incomplete(), RatingFit)


@pytest.mark.parametrize(
    ("group", "registry"),
    [("imagearena.samplers", samplers), ("imagearena.rating_methods", rating_methods)],
)
def test_builtins_registered_in_code_are_declared_as_entry_points(
    group: str, registry: Registry[Any]
) -> None:
    """The same built-ins a third-party package would see under the entry point group."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][group]
    assert sorted(declared) == registry.names()
    for name, target in declared.items():
        module, _, attr = target.partition(":")
        factory = registry.factory(name)
        assert (factory.__module__, factory.__qualname__) == (module, attr)


def test_samplers_and_methods_are_found_by_name_and_unknown_names_list_the_others() -> None:
    from imagearena.errors import UnknownNameError
    from imagearena.ratings.sampling import ActiveSampler, make_sampler

    assert isinstance(make_sampler("active", MODELS, seed=1), ActiveSampler)
    with pytest.raises(UnknownNameError, match="unknown sampler 'thompson'; available: active, uniform"):
        make_sampler("thompson", MODELS)
    rows = rating_methods.create(RatingMethod.BT).fit(_battles(), FitOptions(weights=np.ones(4)))
    assert [r.model for r in rows][0] == "flux"
