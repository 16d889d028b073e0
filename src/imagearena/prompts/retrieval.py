"""Topic retrieval over a prompt set: the k prompts closest to a topic, and the validator's flow of
drawing n prompts per topic from its top K with a seed.

A :class:`PromptIndex` joins a loaded set, its cached embeddings and its search index; opening one
embeds the set only the first time (see imagearena.prompts.cache).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imagearena.errors import InputError
from imagearena.prompts.cache import Progress, cached_embeddings, cached_index
from imagearena.prompts.search.index import EXACT_LIMIT, IndexParams, SearchIndex
from imagearena.text import check_text

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from imagearena.prompts.embedding import Embedder
    from imagearena.prompts.loaders import Prompt, PromptSet

TOPIC_MAX_LENGTH = 1000
DEFAULT_FROM_TOP = 20


@dataclass(frozen=True)
class Match:
    """One prompt found for a topic: its rank for that topic (1 = closest), its row in the set and
    its cosine similarity to the topic."""

    topic: str
    rank: int
    row: int
    similarity: float
    prompt: Prompt


@dataclass(frozen=True)
class Sample:
    """Prompts drawn per topic, and the seed that draws the same ones again."""

    seed: int
    picks: list[list[Match]]


def check_topics(topics: Sequence[str]) -> list[str]:
    cleaned = [check_text(t, "a topic", max_length=TOPIC_MAX_LENGTH).strip() for t in topics]
    if not cleaned or not all(cleaned):
        raise InputError("give at least one topic, and no empty ones (for example --topics 'cats,space')")
    return cleaned


class PromptIndex:
    """A prompt set ready for topic queries."""

    def __init__(
        self,
        prompt_set: PromptSet,
        embedder: Embedder,
        vectors: NDArray[np.float32],
        index: SearchIndex,
        *,
        embedded_now: bool = False,
    ) -> None:
        self.prompt_set, self.embedder, self.vectors, self.index = prompt_set, embedder, vectors, index
        self.embedded_now = embedded_now  # the set's embeddings were computed (not read from the cache)

    @classmethod
    def open(
        cls,
        prompt_set: PromptSet,
        embedder: Embedder,
        data_dir: Path,
        *,
        exact_limit: int = EXACT_LIMIT,
        params: IndexParams | None = None,
        on_progress: Progress | None = None,
    ) -> PromptIndex:
        vectors, folder, fresh = cached_embeddings(prompt_set, embedder, data_dir, on_progress)
        index = cached_index(vectors, folder, exact_limit=exact_limit, params=params, on_progress=on_progress)
        return cls(prompt_set, embedder, vectors, index, embedded_now=fresh)

    def _matches(self, topics: list[str], k: int) -> list[list[Match]]:
        queries = self.embedder.encode(topics)
        rows, sims = self.index.search(queries, min(k, len(self.prompt_set)))
        return [
            [
                Match(topic, rank, int(row), float(sim), self.prompt_set.prompts[int(row)])
                for rank, (row, sim) in enumerate(zip(rows[q], sims[q], strict=True), 1)
                if row >= 0
            ]
            for q, topic in enumerate(topics)
        ]

    def search(self, topics: Sequence[str], k: int = 5) -> list[list[Match]]:
        """Per topic, the ``k`` closest prompts, closest first."""
        if k < 1:
            raise InputError("-k must be at least 1")
        return self._matches(check_topics(topics), k)

    def sample(
        self, topics: Sequence[str], n: int, from_top: int = DEFAULT_FROM_TOP, seed: int | None = None
    ) -> Sample:
        """Per topic, ``n`` distinct prompts drawn uniformly from its ``from_top`` closest, leaving out
        prompts (by text) already drawn for an earlier topic; the same seed draws the same prompts."""
        topics = check_topics(topics)
        if n < 1 or from_top < n:
            raise InputError(f"-n must be at least 1 and at most --from-top ({from_top})")
        if seed is None:
            seed = secrets.randbits(32)
        rng = np.random.default_rng(seed)
        taken: set[str] = set()
        # Enough neighbours that the pool still holds from_top prompts after the ones taken earlier
        # and repeated texts are left out.
        found = self._matches(topics, 2 * from_top + n * len(topics))
        picks = []
        for topic, matches in zip(topics, found, strict=True):
            pool: list[Match] = []
            seen: set[str] = set()
            for m in matches:
                if m.prompt.text not in taken and m.prompt.text not in seen:
                    pool.append(m)
                    seen.add(m.prompt.text)
                if len(pool) == from_top:
                    break
            if len(pool) < n:
                raise InputError(
                    f"the set has only {len(pool)} prompts left for topic {topic!r}: ask for fewer (-n)"
                )
            chosen = sorted(rng.choice(len(pool), size=n, replace=False).tolist())
            picks.append([pool[i] for i in chosen])
            taken.update(pool[i].prompt.text for i in chosen)
        return Sample(seed, picks)
