"""The folder generator serves existing images by prompt, with the same safety checks as an import."""

from __future__ import annotations

import numpy as np
import pytest
from folder_files import write_prompts
from PIL import Image

from imagearena.errors import InputError, UnknownNameError
from imagearena.generators import create_generator
from imagearena.generators.config import create, parse_generators
from imagearena.generators.folder import read_prompt_table, safe_relative_name
from imagearena.types import GenerationRequest


def _save(path, colour):
    Image.new("RGB", (16, 16), colour).save(path)


@pytest.fixture
def model_dir(tmp_path):
    root = tmp_path / "gens"
    model = root / "sdxl"
    model.mkdir(parents=True)
    _save(model / "cat1.png", (255, 0, 0))
    _save(model / "cat2.png", (0, 255, 0))
    _save(model / "dog.png", (0, 0, 255))
    (model / "dog.txt").write_text("a dog")
    write_prompts(root / "prompts.jsonl", [("cat1.png", "a cat"), ("sdxl/cat2.png", "a cat")])
    (model / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (model / "broken.txt").write_text("a broken image")
    return model


def test_serves_the_image_of_a_prompt(model_dir):
    gen = create_generator("folder", path=model_dir)
    assert gen.name == "folder-sdxl"
    assert gen.prompts() == ["a broken image", "a cat", "a dog"]
    assert np.asarray(gen.image("a dog", 0))[0, 0].tolist() == [0, 0, 255]
    cats = {tuple(np.asarray(gen.image("a cat", seed))[0, 0].tolist()) for seed in range(4)}
    assert cats == {(255, 0, 0), (0, 255, 0)}  # the seed picks among the images of one prompt
    assert gen.image("a cat", 7).tobytes() == gen.image("a cat", 7).tobytes()


def test_unknown_prompts_and_bad_images_are_errors(model_dir):
    gen = create_generator("folder", path=model_dir)
    with pytest.raises(UnknownNameError, match="no image for the prompt"):
        gen.image("a horse", 0)
    with pytest.raises(InputError, match="corrupt|not an image"):
        gen.image("a broken image", 0)
    with pytest.raises(InputError, match="not a folder"):
        create_generator("folder", path=model_dir / "nope")


@pytest.mark.parametrize(
    ("name", "safe"),
    [("cat.png", "cat.png"), ("./m/cat.png", "m/cat.png"), ("m\\cat.png", "m/cat.png"), ("../x", None),
     ("/etc/passwd", None), ("C:x.png", None), ("a/b/c.png", None), ("", None), ("m/../../x", None)],
)  # fmt: skip
def test_safe_relative_names(name, safe):
    assert safe_relative_name(name) == safe


def test_prompt_table_reports_bad_csv_header(tmp_path):
    (tmp_path / "prompts.csv").write_text("name,text2\nx.png,hello\n")
    table = read_prompt_table(tmp_path)
    assert table.prompts == {} and table.problems == [
        ("prompts.csv", "expected a header with columns 'file' and 'prompt'")
    ]


def test_images_whose_prompt_cannot_be_stored_are_left_out(model_dir):
    _save(model_dir / "nul.png", (9, 9, 9))
    (model_dir / "nul.txt").write_text("a cat\x00")
    gen = create_generator("folder", path=model_dir)
    assert gen.prompts() == ["a broken image", "a cat", "a dog"]


def test_images_are_read_under_the_limits_passed_down(model_dir):
    from imagearena.media import Limits

    gen = create_generator("folder", path=model_dir, limits=Limits(max_pixels=255))
    with pytest.raises(InputError, match="IMAGEARENA_MAX_IMAGE_PIXELS"):
        gen.image("a dog", 0)  # 16 x 16 = 256 pixels
    roomy = create_generator("folder", path=model_dir, limits=Limits(max_pixels=256))
    assert roomy.image("a dog", 0).size == (16, 16)


def test_a_request_returns_the_files_bytes(model_dir):
    gen = create_generator("folder", path=model_dir)
    images = gen.generate(GenerationRequest("a cat", seed=0, n=3))
    assert [i.seed for i in images] == [0, 1, 2]
    assert [i.params["file"] for i in images] == ["cat1.png", "cat2.png", "cat1.png"]
    assert images[1].data == (model_dir / "cat2.png").read_bytes()
    with pytest.raises(InputError, match="corrupt|not an image"):
        gen.generate(GenerationRequest("a broken image", seed=0))


def test_built_from_an_entry_whose_path_is_relative_to_the_file(model_dir):
    root = model_dir.parent
    [config] = parse_generators(
        {"generators": {"sdxl-outputs": {"backend": "folder", "path": "sdxl"}}}, "x.toml", root=root
    ).values()
    gen = create(config)
    assert gen.name == "sdxl-outputs" and gen.check() == f"3 prompts in {root / 'sdxl'}"
    [image] = gen.generate(GenerationRequest("a dog", seed=0))
    assert image.data == (model_dir / "dog.png").read_bytes()
    [bare] = parse_generators({"generators": {"x": {"backend": "folder"}}}).values()
    with pytest.raises(InputError, match="set path"):
        create(bare)
