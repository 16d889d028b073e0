"""Topic search and sampling against exact cosine top-k computed here, on real PartiPrompts with the
bundled MiniLM model; the approximate index against brute force on vectors made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagearena.errors import InputError
from imagearena.prompts.embedding import Embedder
from imagearena.prompts.loaders import load_prompt_set
from imagearena.prompts.retrieval import PromptIndex
from imagearena.prompts.search import index as search_index
from imagearena.prompts.search.index import ApproximateIndex, ExactIndex, IndexParams, exact_top_k

TOPICS = ["a red sports car", "cats and kittens", "a painting of a city at night", "food on a plate"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def parti(parti_sample: Path, minilm: Embedder, data_dir: Path) -> PromptIndex:
    return PromptIndex.open(load_prompt_set(parti_sample), minilm, data_dir)


@pytest.fixture(scope="module")
def raw_embeddings(parti: PromptIndex, minilm: Embedder) -> np.ndarray:
    """The model's own unnormalised embeddings of the set, straight from sentence-transformers."""
    return minilm.model.encode(parti.prompt_set.texts, normalize_embeddings=False, convert_to_numpy=True)


def cosine_top_k(model: object, raw: np.ndarray, topic: str, k: int) -> tuple[list[int], np.ndarray]:
    """Exact cosine top-k, computed here from unnormalised embeddings."""
    q = model.encode([topic], normalize_embeddings=False, convert_to_numpy=True)[0]  # type: ignore[attr-defined]
    sims = raw @ q / (np.linalg.norm(raw, axis=1) * np.linalg.norm(q))
    order = np.argsort(-sims, kind="stable")[:k]
    return order.tolist(), sims[order]


def test_search_is_exact_cosine_top_k(
    parti: PromptIndex, minilm: Embedder, raw_embeddings: np.ndarray
) -> None:
    assert isinstance(parti.index, ExactIndex)  # 272 prompts: below the approximate threshold
    found = parti.search(TOPICS, k=8)
    for topic, matches in zip(TOPICS, found, strict=True):
        rows, sims = cosine_top_k(minilm.model, raw_embeddings, topic, 8)
        assert [m.row for m in matches] == rows
        assert [m.rank for m in matches] == list(range(1, 9))
        np.testing.assert_allclose([m.similarity for m in matches], sims, atol=2e-5)
        assert all(m.topic == topic and m.prompt is parti.prompt_set.prompts[m.row] for m in matches)


def test_a_prompt_finds_itself_first(parti: PromptIndex) -> None:
    prompt = parti.prompt_set.prompts[100]
    [[best, *_]] = parti.search([prompt.text], k=3)
    assert best.prompt.text == prompt.text and best.similarity == pytest.approx(1.0, abs=1e-5)
    assert best.prompt.metadata["Category"] == prompt.metadata["Category"]


def test_search_k_larger_than_the_set(tmp_path: Path, minilm: Embedder) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("a dog\na cat\na spaceship\n", encoding="utf-8")
    index = PromptIndex.open(load_prompt_set(path), minilm, tmp_path / "data")
    [matches] = index.search(["a puppy"], k=10)
    assert [m.prompt.text for m in matches][0] == "a dog" and len(matches) == 3
    with pytest.raises(InputError, match="-k"):
        index.search(["a puppy"], k=0)
    with pytest.raises(InputError, match="topic"):
        index.search([" "], k=1)


def test_sample_draws_from_each_topics_top_k(parti: PromptIndex) -> None:
    drawn = parti.sample(TOPICS, 3, from_top=10, seed=42)
    assert drawn.seed == 42 and [len(p) for p in drawn.picks] == [3, 3, 3, 3]
    tops = parti.search(TOPICS, k=10 + 3 * len(TOPICS))
    texts = [m.prompt.text for picks in drawn.picks for m in picks]
    assert len(set(texts)) == len(texts)  # no prompt drawn for two topics
    for picks, top in zip(drawn.picks, tops, strict=True):
        top_rows = [m.row for m in top]
        for m in picks:
            assert m.row in top_rows and m.rank == top_rows.index(m.row) + 1
        taken_before = {m.prompt.text for p in drawn.picks[: drawn.picks.index(picks)] for m in p}
        pool = [m.row for m in top if m.prompt.text not in taken_before][:10]
        assert {m.row for m in picks} <= set(pool)


def test_sample_is_seeded(parti: PromptIndex) -> None:
    def rows(seed: int | None) -> tuple[int, list[list[int]]]:
        s = parti.sample(TOPICS[:2], 2, from_top=15, seed=seed)
        return s.seed, [[m.row for m in p] for p in s.picks]

    assert rows(7) == rows(7)
    assert len({str(rows(seed)[1]) for seed in range(6)}) > 1
    seed, picked = rows(None)
    assert rows(seed) == (seed, picked)


def test_sample_refuses_more_than_from_top(parti: PromptIndex) -> None:
    with pytest.raises(InputError, match="at most --from-top"):
        parti.sample(["cats"], 5, from_top=3)


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((50, d)).astype(np.float32)
    x = centers[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def low_rank(n: int, d: int, seed: int) -> np.ndarray:
    """Unit vectors near a 6-dimensional subspace: some structure, as embeddings of real text have
    (isotropic random vectors are the one case no graph index handles well)."""
    basis = np.random.default_rng(0).standard_normal((6, d)).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32) @ basis + 0.05 * rng.standard_normal((n, d)).astype(
        np.float32
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_top_k_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "EXACT_CHUNK_ROWS", 700)
    x, q = clustered(5000, 24, 1), clustered(7, 24, 2)
    rows, sims = exact_top_k(x, q, 12)
    brute = q @ x.T
    expected = np.argsort(-brute, axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(sims, np.take_along_axis(brute, expected, axis=1), rtol=1e-6)


def test_approximate_index_recall_and_exact_similarities(tmp_path: Path) -> None:
    x, q = low_rank(20_000, 32, 3), low_rank(50, 32, 4)
    index = ApproximateIndex.build(x, IndexParams())
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    for queries in (q, q[:1]):  # a batch, and one query (usearch answers it in another shape)
        rows, sims = index.search(queries, 10)
        recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows, truth, strict=False)])
        assert recall >= 0.95  # 0.998 when written; 0.962 without the exact re-ranking
        np.testing.assert_allclose(sims, np.einsum("qkd,qd->qk", x[rows], queries), rtol=1e-5)
        assert (np.diff(sims, axis=1) <= 0).all()
    index.save(tmp_path / "i.usearch")
    again = ApproximateIndex.load(tmp_path / "i.usearch", x, IndexParams())
    np.testing.assert_array_equal(again.search(q, 10)[0], index.search(q, 10)[0])
    with pytest.raises(ValueError, match="not an index over these"):
        ApproximateIndex.load(tmp_path / "i.usearch", x[:100], IndexParams())


def test_large_sets_use_the_approximate_index(parti: PromptIndex, minilm: Embedder, data_dir: Path) -> None:
    """Above the threshold the same set is searched through an index saved beside its embeddings,
    and agrees with exact search on these topics."""
    exact = parti
    approximate = PromptIndex.open(parti.prompt_set, minilm, data_dir, exact_limit=100)
    assert isinstance(approximate.index, ApproximateIndex) and not approximate.embedded_now
    for a, e in zip(approximate.search(TOPICS, 5), exact.search(TOPICS, 5), strict=True):
        assert [m.row for m in a] == [m.row for m in e]
    [entry] = (data_dir / "prompt-embeddings").iterdir()
    assert sorted(p.name for p in entry.iterdir()) == [
        "embeddings.npy",
        "index.json",
        "index.usearch",
        "meta.json",
    ]
