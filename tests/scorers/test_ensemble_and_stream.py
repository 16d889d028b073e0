"""Ensemble arithmetic and the streaming decoder, on plain Python scorers (no model needed)."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

from imagearena.errors import InputError
from imagearena.scorers.ensemble import (
    Ensemble,
    load_reference_stats,
    parse_spec,
    percentile_ranks,
    zscores,
)
from imagearena.scorers.io import ScoreItem, decode_image, iter_decoded, score_stream


class Brightness:
    """A real (if simple) scorer: mean pixel value times a factor."""

    def __init__(self, name="bright", factor=1.0):
        self.name, self.factor = name, factor
        self.calls: list[int] = []

    def score(self, prompts, images):
        self.calls.append(len(images))
        return [self.factor * float(np.asarray(im.convert("L"), dtype=np.float64).mean()) for im in images]


def gray(v: int) -> Image.Image:
    return Image.new("RGB", (8, 8), (v, v, v))


def test_parse_spec_forms():
    assert parse_spec("a,b") == [("a", 1.0), ("b", 1.0)]
    assert parse_spec("a,b", "0.7,0.3") == [("a", 0.7), ("b", 0.3)]
    assert parse_spec("a=2, b=1") == [("a", 2.0), ("b", 1.0)]
    for spec, weights, match in [
        ("a,b", "1", "one per scorer"),
        ("a=1,b", None, "every scorer"),
        ("a=1,b=2", "1,2", "not both"),
        ("a,a", None, "twice"),
        ("a,b", "0,0", "zero"),
        ("a,b", "1,-1", ">= 0"),
        ("a", "x", "not a number"),
        ("", None, "no scorer"),
    ]:
        with pytest.raises(InputError, match=match):
            parse_spec(spec, weights)


def test_zscores_and_ranks():
    assert zscores([1.0, 2.0, 3.0]) == [-1.0, 0.0, 1.0]
    assert zscores([5.0, 5.0]) == [0.0, 0.0]
    assert zscores([3.0], 1.0, 2.0) == [1.0]
    assert percentile_ranks([10.0, 30.0, 20.0, 30.0]) == [
        0.0,
        pytest.approx(5 / 6),
        1 / 3,
        pytest.approx(5 / 6),
    ]
    assert percentile_ranks([4.0]) == [0.5]


def test_shipped_reference_stats_and_user_file(tmp_path):
    stats = load_reference_stats()
    assert stats["imagereward"] == (0.0, 1.0)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"bright": {"mean": 100, "std": 50}}))
    assert load_reference_stats(path)["bright"] == (100.0, 50.0)
    path.write_text(json.dumps({"bright": {"mean": 1, "std": 0}}))
    with pytest.raises(InputError, match="positive"):
        load_reference_stats(path)


def test_ensemble_normalisations():
    images = [gray(0), gray(100), gray(200)]
    a, b = Brightness("a"), Brightness("b", factor=-0.01)  # b disagrees with a, on another scale
    by_batch = Ensemble({"a": a, "b": b}, [3, 1], normalize="batch")
    assert by_batch.score("p", images) == pytest.approx([-0.5, 0.0, 0.5])
    by_rank = Ensemble({"a": a, "b": b}, [1, 1], normalize="rank")
    assert by_rank.score("p", images) == pytest.approx([0.5, 0.5, 0.5])
    by_ref = Ensemble({"a": a}, normalize="reference", stats={"a": (100.0, 50.0)})
    assert by_ref.score("p", images) == pytest.approx([-2.0, 0.0, 2.0])
    assert by_ref.score_components("p", images) == {"a": pytest.approx([0.0, 100.0, 200.0])}
    assert Ensemble({"a": a}, stats={}).normalize == "batch"  # auto without statistics
    assert Ensemble({"a": a}, stats={"a": (0.0, 1.0)}).normalize == "reference"
    with pytest.raises(InputError, match="no reference statistics for a"):
        Ensemble({"a": a}, normalize="reference", stats={})


def test_stream_keeps_order_skips_bad_files_and_batches(tmp_path):
    paths = []
    for i in range(10):
        path = tmp_path / f"{i}.png"
        gray(i * 20).save(path)
        paths.append(path)
    (tmp_path / "bad.png").write_bytes(b"nope")
    items = [ScoreItem(p, "x", key=p.name) for p in paths[:5]]
    items += [
        ScoreItem(tmp_path / "bad.png", "x", key="bad"),
        ScoreItem(tmp_path / "gone.png", "x", key="gone"),
    ]
    items += [ScoreItem(p, "x", key=p.name) for p in paths[5:]]
    scorer = Brightness()
    progress = []
    results = list(score_stream(scorer, items, batch_size=4, workers=3, on_progress=progress.append))
    assert [r.item.key for r in results] == [it.key for it in items]
    assert [r.index for r in results] == list(range(len(items)))
    bad = {r.item.key: r.error for r in results if not r.ok}
    assert set(bad) == {"bad", "gone"} and "not a readable image" in bad["bad"] and "not found" in bad["gone"]
    assert [r.score for r in results if r.ok] == pytest.approx([i * 20 for i in range(10)], abs=1)
    assert scorer.calls == [4, 4, 2] and sum(progress) == len(items)


def test_decode_window_is_bounded(tmp_path):
    """At most ``prefetch`` decodes run ahead of the consumer: memory stays flat on long runs."""
    started = []
    lock = threading.Lock()

    def decode(source):
        with lock:
            started.append(source)
        return gray(0)

    stream = iter_decoded((ScoreItem(i, "x") for i in range(100)), workers=4, prefetch=8, decode=decode)
    next(stream)
    time.sleep(0.2)
    assert len(started) <= 9
    assert len(list(stream)) == 99


def test_decode_limits(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    assert decode_image(path).size == (100, 100)
    with pytest.raises(InputError, match="pixel limit"):
        decode_image(path, max_pixels=1000)
    with pytest.raises(InputError, match="byte limit"):
        decode_image(path, max_bytes=10)
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert decode_image(rgba) is rgba
    rgba.save(tmp_path / "rgba.png")
    assert (
        decode_image(tmp_path / "rgba.png").mode == "RGBA"
    )  # converted later, where the scorer's pipeline does
