"""The procedural demo generator: deterministic, registered, and its styles visibly differ in quality."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from imagearena.errors import InputError
from imagearena.generators import create_generator, list_generators
from imagearena.generators.config import create, parse_entry
from imagearena.generators.procedural import COLOURS, STYLES, ProceduralGenerator, compose
from imagearena.media import encode_png, inspect_image
from imagearena.types import GenerationRequest

PROMPTS = ["three yellow stars in a night sky", "a red ball above a blue ocean", "two purple cubes on snow"]


def _gray(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), np.float32)


def sharpness(img: Image.Image) -> float:
    """Strength of the strongest edges once pixel noise is filtered out: high for crisp shapes, low
    for blurred ones."""
    g = _gray(img.filter(ImageFilter.MedianFilter(5)))
    grad = np.hypot(np.diff(g, axis=0)[:, :-1], np.diff(g, axis=1)[:-1, :])
    return float(np.percentile(grad, 99.5))


def noise(img: Image.Image) -> float:
    """Pixel noise: how far pixels sit from their 3x3 median."""
    return float(np.abs(_gray(img) - _gray(img.filter(ImageFilter.MedianFilter(3)))).mean())


def test_registered_through_the_entry_point():
    assert {"procedural", "folder"} <= set(list_generators())
    gen = create_generator("procedural", style="blurry", size=64)
    assert gen.name == "procedural-blurry"
    [image] = gen.generate(GenerationRequest("a red ball", seed=0))
    assert inspect_image(image.data).width == 64


@pytest.mark.parametrize("style", STYLES)
def test_deterministic_in_prompt_and_seed(style):
    gen = ProceduralGenerator(style=style, size=96)
    a = encode_png(gen.render("a red ball above a blue ocean", 3))
    assert a == encode_png(
        ProceduralGenerator(style=style, size=96).render("a red ball above a blue ocean", 3)
    )
    assert a != encode_png(gen.render("a red ball above a blue ocean", 4))
    assert a != encode_png(gen.render("a green ball above a blue ocean", 3))


def test_styles_differ_in_visible_quality():
    """crisp: sharp and clean; blurry: soft and grainy; glitchy: noisiest. Measured, not eyeballed."""
    measures = {style: [] for style in STYLES}
    for prompt in PROMPTS:
        for style in STYLES:
            img = ProceduralGenerator(style=style, size=128).render(prompt, 0)
            measures[style].append((sharpness(img), noise(img)))
    mean = {s: np.mean(v, axis=0) for s, v in measures.items()}
    crisp_sharp, crisp_noise = mean["crisp"]
    assert crisp_noise < 1.0 < mean["painterly"][1] < 5.0 < min(mean["blurry"][1], mean["glitchy"][1])
    assert crisp_sharp > 2 * mean["blurry"][0]
    assert mean["painterly"][0] > mean["blurry"][0]
    for prompt_i in range(len(PROMPTS)):  # every pair of styles differs a lot pixel by pixel
        imgs = [
            np.asarray(ProceduralGenerator(style=s, size=128).render(PROMPTS[prompt_i], 0), np.float32)
            for s in STYLES
        ]
        for i in range(len(imgs)):
            for j in range(i + 1, len(imgs)):
                assert np.abs(imgs[i] - imgs[j]).mean() > 5.0


def test_crisp_style_draws_the_prompted_colour():
    img = np.asarray(
        ProceduralGenerator(style="crisp", size=128).render("a red ball above a blue ocean", 0), np.int32
    )
    red = np.array(COLOURS["red"])
    near_red = (np.abs(img - red).sum(axis=2) < 40).mean()
    assert near_red > 0.03  # a visible red ball
    glitchy = np.asarray(
        ProceduralGenerator(style="glitchy", size=128).render("a red ball above a blue ocean", 0), np.int32
    )
    assert (np.abs(glitchy - red).sum(axis=2) < 40).mean() < near_red / 3


def test_composition_follows_counts_colours_and_shapes():
    comp = compose("three yellow stars and a blue box in a night sky", 0)
    kinds = [(kind, colour) for kind, colour, *_ in comp.shapes]
    assert kinds == [("star", COLOURS["yellow"])] * 3 + [("square", COLOURS["blue"])]
    assert all(0 <= x <= 1 and 0 <= y <= 1 for _, _, x, y, _ in comp.shapes)
    assert compose("an abstract idea", 1).shapes  # no shape words: still draws something


def test_bad_arguments_are_user_errors():
    with pytest.raises(InputError, match="style"):
        ProceduralGenerator(style="photoreal")
    with pytest.raises(InputError, match="size"):
        ProceduralGenerator(style="crisp", size=5)


def test_a_request_gives_n_pngs_with_consecutive_seeds():
    gen = ProceduralGenerator(style="painterly", size=32)
    images = gen.generate(GenerationRequest("two purple cubes on snow", seed=5, n=3))
    assert [i.seed for i in images] == [5, 6, 7]
    for k, image in enumerate(images):
        assert image.data == encode_png(gen.render("two purple cubes on snow", 5 + k))
        assert image.params == {"backend": "procedural", "style": "painterly", "width": 32, "height": 32}
    [wide] = gen.generate(GenerationRequest("two purple cubes on snow", seed=5, width=48))
    assert inspect_image(wide.data).width == 48
    with pytest.raises(InputError, match="square"):
        gen.generate(GenerationRequest("a cube", seed=0, width=32, height=64))
    with pytest.raises(InputError, match="1 to 64 images"):
        gen.generate(GenerationRequest("a cube", seed=0, n=0))


def test_built_from_a_generators_file_entry():
    gen = create(parse_entry("demo-glitchy", {"backend": "procedural", "style": "glitchy", "size": "40x40"}))
    assert (gen.name, gen.style, gen.size) == ("demo-glitchy", "glitchy", 40)
    with pytest.raises(InputError, match="square"):
        create(parse_entry("wide", {"backend": "procedural", "size": "40x80"}))
    with pytest.raises(InputError, match="unknown procedural style"):
        create(parse_entry("odd", {"backend": "procedural", "style": "cubist"}))
