"""The demo generator: draws an image for a prompt with PIL and numpy, no model weights needed.

The prompt's colour, shape, count and scene words set a composition; the *style* sets how well it is
rendered, from clean anti-aliased shapes ("crisp") to blurred, noisy or garbled ones, so the demo
arena has contestants of visibly different quality. All styles share the composition of a (prompt,
seed) pair, the way two models answer the same prompt; output is deterministic in (style, prompt, seed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imagearena.errors import InputError
from imagearena.types import GeneratedImage, GenerationRequest

if TYPE_CHECKING:
    import numpy as np
    from PIL import ImageDraw
    from PIL.Image import Image

    from imagearena.generators.config import GeneratorConfig

# Best first: the order the demo leaderboard should converge to.
STYLES = ("crisp", "painterly", "blurry", "glitchy")

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (245, 215, 40),
    "gold": (212, 175, 55),
    "green": (50, 170, 70),
    "teal": (30, 150, 150),
    "cyan": (40, 200, 220),
    "blue": (40, 90, 210),
    "purple": (130, 60, 180),
    "pink": (240, 120, 170),
    "white": (245, 245, 245),
    "black": (25, 25, 30),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "brown": (120, 75, 40),
    "silver": (190, 190, 200),
}
SHAPES = {
    "circle": "circle", "ball": "circle", "sun": "circle", "moon": "circle", "planet": "circle",
    "orb": "circle", "square": "square", "cube": "square", "box": "square", "house": "square",
    "building": "square", "block": "square", "triangle": "triangle", "pyramid": "triangle",
    "mountain": "triangle", "tree": "triangle", "star": "star", "flower": "star",
}  # fmt: skip
SCENES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {  # top and bottom of the background
    "night": ((10, 15, 50), (40, 40, 90)),
    "sunset": ((250, 150, 60), (120, 50, 120)),
    "ocean": ((150, 200, 240), (20, 70, 160)),
    "sea": ((150, 200, 240), (20, 70, 160)),
    "sky": ((120, 180, 240), (210, 230, 250)),
    "desert": ((250, 220, 160), (210, 160, 90)),
    "snow": ((225, 235, 245), (250, 250, 255)),
    "grass": ((170, 220, 250), (60, 150, 60)),
    "forest": ((90, 140, 90), (30, 80, 40)),
    "space": ((0, 0, 10), (20, 10, 40)),
}
NUMBERS = {"one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


RGB = tuple[int, int, int]


def _rgb(values: Iterable[float]) -> RGB:
    a, b, c = (int(v) for v in values)
    return (a, b, c)


@dataclass(frozen=True, slots=True)
class Composition:
    """What the prompt asks for, with the layout drawn from (prompt, seed)."""

    background: tuple[RGB, RGB]
    shapes: tuple[tuple[str, RGB, float, float, float], ...]  # kind, colour, x, y, radius


def _rng(*parts: object) -> np.random.Generator:
    import numpy as np

    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def compose(prompt: str, seed: int) -> Composition:
    """Read colours, shapes, counts and a scene from the prompt's words; place shapes from (prompt, seed)."""
    words = re.findall(r"[a-z]+|\d+", prompt.lower())
    rng = _rng("composition", prompt, seed)
    colours = [COLOURS[w] for w in words if w in COLOURS]
    background = next((SCENES[w] for w in words if w in SCENES), None)
    if background is None:
        top = _rgb(rng.integers(150, 240, 3))
        background = (top, _rgb(min(255, v + 25) for v in top))
    # Each shape word takes the nearest preceding count and colour words ("three yellow stars").
    shapes: list[tuple[str, RGB]] = []
    count, colour = 1, None
    for word in words:
        if word.isdigit():
            count = max(1, min(int(word), 8))
        elif word in NUMBERS:
            count = NUMBERS[word]
        elif word in COLOURS:
            colour = COLOURS[word]
        else:
            kind = SHAPES.get(word.rstrip("s")) or SHAPES.get(word)
            if kind:
                fill = colour or (colours[0] if colours else _rgb(rng.integers(30, 230, 3)))
                shapes.extend((kind, fill) for _ in range(count))
                count, colour = 1, None
    if not shapes:
        kinds = ["circle", "square", "triangle", "star"]
        for i in range(int(rng.integers(1, 4))):
            fill = colours[i % len(colours)] if colours else _rgb(rng.integers(30, 230, 3))
            shapes.append((kinds[int(rng.integers(0, 4))], fill))
    placed = []
    n = len(shapes)
    for i, (kind, fill) in enumerate(shapes):
        radius = float(rng.uniform(0.10, 0.16) if n > 2 else rng.uniform(0.16, 0.24))
        x = (i + 0.5) / n + float(rng.uniform(-0.3, 0.3)) / n
        y = float(rng.uniform(0.3, 0.7))
        placed.append((kind, fill, min(max(x, radius), 1 - radius), y, radius))
    return Composition(background=background, shapes=tuple(placed))


def _shape_points(kind: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    import math

    if kind == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.8), (cx - r * 0.95, cy + r * 0.8)]
    if kind == "star":
        points = []
        for i in range(10):
            radius = r if i % 2 == 0 else r * 0.45
            angle = -math.pi / 2 + i * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        return points
    return []


def render_clean(comp: Composition, size: int, *, supersample: int = 3) -> Image:
    """The composition drawn well: smooth gradient, soft shadows, anti-aliased edges."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    big = size * supersample
    top, bottom = (np.array(c, dtype=np.float32) for c in comp.background)
    t = np.linspace(0.0, 1.0, big, dtype=np.float32)[:, None, None]
    gradient = (top * (1 - t) + bottom * t).repeat(big, axis=1)
    canvas = Image.fromarray(gradient.astype(np.uint8), "RGB")
    shadow = Image.new("L", (big, big), 0)
    sdraw = ImageDraw.Draw(shadow)
    for kind, _, x, y, r in comp.shapes:
        _draw(sdraw, kind, (x + 0.02) * big, (y + 0.03) * big, r * big, 110)
    shadow = shadow.filter(ImageFilter.GaussianBlur(big / 60))
    canvas.paste((0, 0, 0), mask=shadow)
    draw = ImageDraw.Draw(canvas)
    for kind, fill, x, y, r in comp.shapes:
        _draw(draw, kind, x * big, y * big, r * big, fill)
        highlight = tuple(min(255, int(c * 0.6 + 110)) for c in fill)
        _draw(draw, kind, (x - r * 0.25) * big, (y - r * 0.25) * big, r * 0.25 * big, highlight)
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def _draw(
    draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, fill: int | tuple[int, ...]
) -> None:
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == "square":
        draw.rectangle((cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85), fill=fill)
    else:
        draw.polygon(_shape_points(kind, cx, cy, r), fill=fill)


def _painterly(img: Image, rng: np.random.Generator) -> Image:
    """Decent but imperfect: visible brush texture and slightly washed-out colour."""
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter

    arr = np.asarray(img.filter(ImageFilter.ModeFilter(5)).filter(ImageFilter.GaussianBlur(1.2)), np.float32)
    h, w, _ = arr.shape
    strokes = rng.normal(0, 9, (h // 4 + 1, w // 2 + 1, 1)).repeat(4, 0).repeat(2, 1)[:h, :w]
    out = Image.fromarray(np.clip(arr + strokes, 0, 255).astype(np.uint8), "RGB")
    return ImageEnhance.Color(out).enhance(0.75)


def _blurry(img: Image, rng: np.random.Generator) -> Image:
    """Poor: out of focus, grainy, low contrast."""
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter

    soft = img.filter(ImageFilter.GaussianBlur(img.width / 40))
    soft = ImageEnhance.Contrast(soft).enhance(0.6)
    arr = np.asarray(soft, np.float32) + rng.normal(0, 28, (img.height, img.width, 1))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _glitchy(comp: Composition, size: int, rng: np.random.Generator) -> Image:
    """Worst: wrong colours, shapes in the wrong places, blocky compression artefacts, colour noise."""
    import numpy as np
    from PIL import Image

    shuffled = Composition(
        background=(_rgb(comp.background[1][::-1]), _rgb(comp.background[0][::-1])),
        shapes=tuple(
            (kind, _rgb(rng.integers(0, 256, 3)), float(rng.uniform(0.2, 0.8)),
             float(rng.uniform(0.2, 0.8)), r * float(rng.uniform(0.5, 1.4)))
            for kind, _, _, _, r in comp.shapes
        ),
    )  # fmt: skip
    img = render_clean(shuffled, size, supersample=1)
    block = max(4, size // 24)
    small = img.resize((size // block, size // block), Image.Resampling.NEAREST)
    arr = np.asarray(small.resize((size, size), Image.Resampling.NEAREST), np.float64)
    arr = arr + rng.normal(0, 40, arr.shape)
    rows = rng.choice(size, size // 10, replace=False)
    arr[rows] = np.roll(arr[rows], int(rng.integers(5, size // 4)), axis=1)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


class ProceduralGenerator:
    """A weight-free generator; ``style`` picks the rendering quality (see STYLES).

    Built from a generators-file entry (``backend = "procedural"``, ``style = "..."``, ``size = "NxN"``)
    or directly with ``style`` and ``size``.
    """

    OPTIONS = frozenset({"style"})

    def __init__(
        self, config: GeneratorConfig | None = None, *, style: str | None = None, size: int | None = None
    ) -> None:
        name = None
        if config is not None:
            from imagearena.generators.config import str_option

            style = style or str_option(config, "style", "crisp")
            if config.width is not None and config.width != config.height:
                raise InputError(f'generator {config.name!r}: procedural images are square: use size = "NxN"')
            size = size or config.width
            name = config.name
        style = style or "crisp"
        size = size or 256
        if style not in STYLES:
            raise InputError(f"unknown procedural style {style!r}: use one of {', '.join(STYLES)}")
        _check_size(size)
        self.style = style
        self.size = size
        self.name = name or f"procedural-{style}"

    def __repr__(self) -> str:
        return f"ProceduralGenerator(name={self.name!r}, style={self.style!r}, size={self.size})"

    def render(self, prompt: str, seed: int = 0, size: int | None = None) -> Image:
        """The image of (prompt, seed) in this style, ``size`` pixels square (default: the generator's)."""
        size = size or self.size
        comp = compose(prompt, seed)
        rng = _rng(self.style, prompt, seed)
        if self.style == "glitchy":
            return _glitchy(comp, size, rng)
        clean = render_clean(comp, size)
        if self.style == "painterly":
            return _painterly(clean, rng)
        if self.style == "blurry":
            return _blurry(clean, rng)
        return clean

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        """PNG images, image k drawn with seed ``request.seed + k``; steps and guidance do not apply."""
        from imagearena.generators.config import check_request
        from imagearena.media import encode_png

        check_request(request)
        width, height = request.width or self.size, request.height or request.width or self.size
        if width != height:
            raise InputError(f"procedural images are square: ask for {width}x{width}, not {width}x{height}")
        _check_size(width)
        images = []
        for k in range(request.n):
            data = encode_png(self.render(request.prompt, request.seed + k, width))
            params = {"backend": "procedural", "style": self.style, "width": width, "height": width}
            images.append(GeneratedImage(data=data, seed=request.seed + k, params=params))
        return images


def _check_size(size: int) -> None:
    if not 16 <= size <= 2048:
        raise InputError(f"image size {size} is out of range: use 16 to 2048 pixels")
