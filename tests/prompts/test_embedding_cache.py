"""The embedding cache: a set is embedded once per (prompt texts, model weights), under the data dir;
changing either embeds again and drops the stale entry; a half-written entry is not read."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from imagearena.prompts.cache import cache_root, cached_embeddings, cached_index, entry_folder
from imagearena.prompts.embedding import Embedder, bundled_model_dir
from imagearena.prompts.loaders import load_prompt_set
from imagearena.prompts.retrieval import PromptIndex
from imagearena.prompts.search.index import ApproximateIndex, ExactIndex, IndexParams

PROMPTS = [
    "a red sports car on the road",
    "a kitten asleep in a basket",
    "the skyline of a city at night",
    "a bowl of ramen with an egg",
    "an astronaut riding a horse",
    "a watercolor of mountains",
]


class Counting:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.texts = inner, 0
        self.name, self.id = inner.name, inner.id

    def encode(self, texts: Sequence[str], on_progress=None):  # noqa: ANN001, ANN201
        self.texts += len(texts)
        return self.inner.encode(texts, on_progress)


@pytest.fixture
def counting(minilm: Embedder) -> Counting:
    return Counting(minilm)


@pytest.fixture
def set_file(tmp_path: Path) -> Path:
    folder = tmp_path / "my-prompts"
    folder.mkdir()
    path = folder / "set.csv"
    path.write_text(
        "prompt,category\n" + "".join(f"{p},c{i}\n" for i, p in enumerate(PROMPTS)), encoding="utf-8"
    )
    return path


def test_embedded_once_then_read(set_file: Path, counting: Counting, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = PromptIndex.open(load_prompt_set(set_file), counting, data)  # type: ignore[arg-type]
    assert first.embedded_now and counting.texts == len(PROMPTS)
    second = PromptIndex.open(load_prompt_set(set_file), counting, data)  # type: ignore[arg-type]
    assert not second.embedded_now and counting.texts == len(PROMPTS)
    assert isinstance(second.vectors, np.memmap)
    np.testing.assert_array_equal(np.asarray(second.vectors), np.asarray(first.vectors))
    np.testing.assert_allclose(np.linalg.norm(second.vectors, axis=1), 1.0, atol=1e-5)
    assert [m.prompt.text for m in second.search(["a car"], 1)[0]] == [PROMPTS[0]]
    # Beside the set means under the data dir, keyed by content: the user's folder is untouched.
    assert sorted(p.name for p in set_file.parent.iterdir()) == ["set.csv"]
    [entry] = cache_root(data).iterdir()
    assert entry == entry_folder(data, load_prompt_set(set_file).fingerprint, counting.id)
    assert sorted(p.name for p in entry.iterdir()) == ["embeddings.npy", "meta.json"]


def test_changed_prompts_are_embedded_again(set_file: Path, counting: Counting, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cached_embeddings(load_prompt_set(set_file), counting, data)  # type: ignore[arg-type]
    [old] = cache_root(data).iterdir()
    set_file.write_text(
        set_file.read_text(encoding="utf-8") + "a lighthouse in a storm,c9\n", encoding="utf-8"
    )
    vectors, new, fresh = cached_embeddings(load_prompt_set(set_file), counting, data)  # type: ignore[arg-type]
    assert fresh and vectors.shape == (len(PROMPTS) + 1, 384)
    assert counting.texts == 2 * len(PROMPTS) + 1
    assert new != old and not old.exists()  # the stale entry of this file is gone
    assert list(cache_root(data).iterdir()) == [new]


def test_changed_metadata_is_not_embedded_again(set_file: Path, counting: Counting, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cached_embeddings(load_prompt_set(set_file), counting, data)  # type: ignore[arg-type]
    set_file.write_text(set_file.read_text(encoding="utf-8").replace(",c", ",category "), encoding="utf-8")
    *_, fresh = cached_embeddings(load_prompt_set(set_file), counting, data)  # type: ignore[arg-type]
    assert not fresh and counting.texts == len(PROMPTS)


def test_another_model_gets_its_own_entry(set_file: Path, minilm: Embedder, tmp_path: Path) -> None:
    """A copy of the model folder is another embedder id; editing one of its files changes the id."""
    bundled = bundled_model_dir()
    assert bundled is not None
    copy = tmp_path / "model-copy"
    shutil.copytree(bundled, copy, copy_function=os.link if _same_device(bundled, tmp_path) else shutil.copy2)
    other = Embedder(copy, device="cpu")
    assert other.id != minilm.id and other.id.startswith(f"{copy}@")
    data = tmp_path / "data"
    prompt_set = load_prompt_set(set_file)
    _, first, _ = cached_embeddings(prompt_set, minilm, data)
    _, second, fresh = cached_embeddings(prompt_set, other, data)
    assert fresh and second != first and first.exists()  # both models' entries are kept
    (copy / "README.md").unlink()
    (copy / "README.md").write_text("changed\n", encoding="utf-8")
    assert Embedder(copy, device="cpu").id != other.id


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def test_a_half_written_entry_is_computed_again(set_file: Path, counting: Counting, tmp_path: Path) -> None:
    data = tmp_path / "data"
    prompt_set = load_prompt_set(set_file)
    _, folder, _ = cached_embeddings(prompt_set, counting, data)  # type: ignore[arg-type]
    (folder / "meta.json").unlink()  # killed before the entry was complete
    *_, fresh = cached_embeddings(prompt_set, counting, data)  # type: ignore[arg-type]
    assert fresh and counting.texts == 2 * len(PROMPTS)
    (folder / "embeddings.npy").write_bytes(b"not numpy")
    *_, fresh = cached_embeddings(prompt_set, counting, data)  # type: ignore[arg-type]
    assert fresh and counting.texts == 3 * len(PROMPTS)


def test_index_saved_once_and_rebuilt_when_its_settings_change(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert isinstance(cached_index(x, tmp_path, exact_limit=3001), ExactIndex)
    assert not (tmp_path / "index.usearch").exists()
    phases: list[str] = []
    built = cached_index(
        x, tmp_path, exact_limit=1000, on_progress=lambda phase, done, total: phases.append(phase)
    )
    assert isinstance(built, ApproximateIndex) and phases and set(phases) == {"indexing"}
    saved = (tmp_path / "index.usearch").stat().st_mtime_ns
    phases.clear()
    again = cached_index(
        x, tmp_path, exact_limit=1000, on_progress=lambda phase, done, total: phases.append(phase)
    )
    assert isinstance(again, ApproximateIndex) and phases == []
    np.testing.assert_array_equal(again.search(x[:5], 3)[0], built.search(x[:5], 3)[0])
    # the search settings apply to the saved graph as it is: no rebuild
    wider = IndexParams(expansion_search=2048, candidates=8)
    searched = cached_index(
        x,
        tmp_path,
        exact_limit=1000,
        params=wider,
        on_progress=lambda phase, done, total: phases.append(phase),
    )
    assert phases == [] and (tmp_path / "index.usearch").stat().st_mtime_ns == saved
    assert isinstance(searched, ApproximateIndex) and searched.params == wider
    assert searched.graph.expansion_search == 2048
    cached_index(x, tmp_path, exact_limit=1000, params=IndexParams(connectivity=8))
    assert (tmp_path / "index.usearch").stat().st_mtime_ns != saved
    (tmp_path / "index.usearch").write_bytes(b"garbage")
    assert isinstance(
        cached_index(x, tmp_path, exact_limit=1000, params=IndexParams(connectivity=8)), ApproximateIndex
    )


def test_an_index_saved_with_the_earlier_defaults_is_rebuilt_with_the_current_ones(tmp_path: Path) -> None:
    """The defaults before connectivity 32 and x4 candidates: a saved graph of 16 links per node is
    still a readable index, but opening the set through the cache builds it again with the current
    settings (its index.json names the settings it was built with, so the change is seen)."""
    earlier = IndexParams(dtype="i8", connectivity=16, expansion_add=64, expansion_search=1024, candidates=2)
    assert earlier != IndexParams()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cached_index(x, tmp_path, exact_limit=1000, params=earlier)
    assert json.loads((tmp_path / "index.json").read_text())["params"] == earlier.as_dict()
    shutil.copy(tmp_path / "index.usearch", tmp_path / "earlier.usearch")

    old = ApproximateIndex.load(tmp_path / "earlier.usearch", x, IndexParams())
    assert old.graph.connectivity == 16  # the file's own graph, searched with today's settings
    rows, sims = old.search(x[:5], 3)
    assert rows[:, 0].tolist() == list(range(5))
    np.testing.assert_allclose(sims[:, 0], 1.0, rtol=1e-5)

    phases: list[str] = []
    current = cached_index(
        x, tmp_path, exact_limit=1000, on_progress=lambda phase, done, total: phases.append(phase)
    )
    assert isinstance(current, ApproximateIndex) and set(phases) == {"indexing"}
    assert current.graph.connectivity == IndexParams().connectivity
    assert json.loads((tmp_path / "index.json").read_text())["params"] == IndexParams().as_dict()
