"""The diffusers generator on a tiny random-weight Stable Diffusion pipeline that the test builds and saves
with save_pretrained, loaded back through the same path as a real checkpoint folder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from imagearena.errors import InputError, MissingDependencyError  # noqa: E402
from imagearena.generators.config import GeneratorConfig, create, parse_entry  # noqa: E402
from imagearena.generators.diffusers_backend import (  # noqa: E402
    _PIPELINES,
    DiffusersGenerator,
    dtype_name,
    require_packages,
)
from imagearena.generators.errors import UnknownModelError  # noqa: E402
from imagearena.types import CheckableGenerator, GenerationRequest  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny pipeline's kernels are too small to split: one thread is faster, and fair to parallel runs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_pipeline import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("diffusers"))


def make(model: Path | str, **options: object) -> DiffusersGenerator:
    return DiffusersGenerator(
        GeneratorConfig(name="tiny", backend="diffusers", model=str(model), steps=1, options=options)
    )


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_same_seed_same_image_whatever_the_batch(tiny_sd: Path) -> None:
    generator = make(tiny_sd, batch_size=2)
    assert isinstance(generator, CheckableGenerator)
    first = generator.generate(GenerationRequest("a red circle", seed=7, n=3))
    assert [image.seed for image in first] == [7, 8, 9]
    assert len({image.data for image in first}) == 3  # each image has its own seed
    again = generator.generate(GenerationRequest("a red circle", seed=7))
    assert again[0].data == first[0].data
    # image k uses seed + k: seed 8 one image at a time gives images 2 and 3 of the batch above
    single = make(tiny_sd, batch_size=1).generate(GenerationRequest("a red circle", seed=8, n=2))
    assert [image.data for image in single] == [image.data for image in first[1:]]
    other_prompt = generator.generate(GenerationRequest("a blue square", seed=7))
    assert other_prompt[0].data != first[0].data
    # both generators share the one pipeline of this process
    assert len(_PIPELINES) == 1
    params = first[0].params
    assert params["pipeline"] == "StableDiffusionPipeline" and params["steps"] == 1
    assert params["dtype"] == "float32" and params["device"] == "cpu"
    assert (params["width"], params["height"]) == png_size(first[0].data) == (16, 16)
    assert params["guidance"] == 7.5  # the pipeline's own default, recorded as used


def test_concurrent_calls_take_turns_on_the_shared_pipeline(tiny_sd: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    generator = make(tiny_sd)
    request = GenerationRequest("a red circle", seed=3, steps=3)
    expected = generator.generate(request)[0].data
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: generator.generate(request)[0].data, range(3)))
    assert results == [expected] * 3


def test_size_steps_guidance_and_negative_prompt_reach_the_pipeline(tiny_sd: Path) -> None:
    generator = make(tiny_sd)
    plain = generator.generate(GenerationRequest("a red circle", seed=1, width=16, height=24))[0]
    assert png_size(plain.data) == (16, 24)
    assert (plain.params["width"], plain.params["height"]) == (16, 24)
    negative = generator.generate(
        GenerationRequest("a red circle", seed=1, width=16, height=24, negative_prompt="blurry")
    )[0]
    assert negative.data != plain.data and negative.params["negative_prompt"] == "blurry"
    request = GenerationRequest("a red circle", seed=1, width=16, height=24, guidance=1.0)
    guided = generator.generate(request)[0]
    assert guided.data != plain.data and guided.params["guidance"] == 1.0
    longer = generator.generate(GenerationRequest("a red circle", seed=1, width=16, height=24, steps=2))[0]
    assert longer.data != plain.data and longer.params["steps"] == 2


def test_a_size_the_vae_cannot_take_is_an_input_error(tiny_sd: Path) -> None:
    with pytest.raises(InputError, match="divisible by 8"):
        make(tiny_sd).generate(GenerationRequest("a red circle", seed=1, width=20, height=20))


def test_check_reads_the_pipeline_index_without_loading_it(
    tiny_sd: Path, tmp_path: Path, monkeypatch
) -> None:
    assert make(tiny_sd).check() == f"StableDiffusionPipeline from {tiny_sd.resolve()} on cpu (float32)"
    with pytest.raises(UnknownModelError, match="holds no model_index.json"):
        make(tmp_path).check()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnknownModelError, match="not in the local hub cache and HF_HUB_OFFLINE is set"):
        make("someone/some-model").check()


def test_a_folder_without_a_pipeline_is_an_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="cannot load a text-to-image pipeline") as caught:
        make(tmp_path / "nothing-here").generate(GenerationRequest("a red circle", seed=1))
    assert "\n" not in str(caught.value)


def test_options_are_checked_when_the_entry_is_built(tiny_sd: Path) -> None:
    with pytest.raises(InputError, match="batch_size"):
        make(tiny_sd, batch_size=0)
    with pytest.raises(InputError, match="unknown dtype"):
        make(tiny_sd, dtype="fp8").generate(GenerationRequest("a red circle", seed=1))
    with pytest.raises(InputError, match="CUDA is not available"):
        make(tiny_sd, device="cuda").generate(GenerationRequest("a red circle", seed=1))


def test_an_entry_of_the_generators_file_builds_the_backend(tiny_sd: Path) -> None:
    table = {"backend": "diffusers", "model": "tiny-sd", "dtype": "fp32", "batch_size": 2, "size": "16x24"}
    generator = create(parse_entry("sd", table, root=tiny_sd.parent))
    assert isinstance(generator, DiffusersGenerator)
    assert generator.model == str(tiny_sd.resolve())  # a relative folder is read from the file's folder
    assert generator.batch_size == 2 and generator.config.options == {"dtype": "fp32", "batch_size": 2}


@pytest.mark.parametrize(
    ("device", "requested", "cuda_bf16", "expected"),
    [
        ("cpu", None, False, "float32"),
        ("cpu", "auto", False, "float32"),
        ("cuda", None, True, "bfloat16"),
        ("cuda:1", "auto", False, "float16"),
        ("mps", None, False, "float16"),
        ("cpu", "bf16", False, "bfloat16"),
        ("cuda", "fp32", True, "float32"),
    ],
)
def test_auto_dtype_is_float32_on_cpu(
    device: str, requested: str | None, cuda_bf16: bool, expected: str
) -> None:
    assert dtype_name(device, requested, cuda_bf16=cuda_bf16) == expected


def test_without_diffusers_the_error_names_the_gen_extra(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r"'diffusers' package \(the 'gen' extra\)"):
        require_packages()
