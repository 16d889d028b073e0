"""Random pair votes written straight through the storage layer, for benchmarks that need a study of
many votes (bench_agreement, bench_preferences): 40% left, 40% right, 10% tie, 10% both_bad."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session


def insert_random_votes(
    session: Session,
    study_id: int,
    ids: list[list[tuple[int, int, int]]],
    votes: int,
    rng: np.random.Generator,
) -> None:
    """``votes`` votes between two different models on one prompt each; ``ids[model][prompt]`` is that
    image's (image id, model id, prompt id). Commits every 5,000 votes."""
    from imagearena.storage.matches import MatchClaims, MatchVote, insert_match_votes

    models, prompts = len(ids), len(ids[0])
    a = rng.integers(0, models, votes)
    b = (a + rng.integers(1, models, votes)) % models
    j = rng.integers(0, prompts, votes)
    winners = np.array(["model_a", "model_b", "tie", "both_bad"])[
        rng.choice(4, votes, p=[0.4, 0.4, 0.1, 0.1])
    ]
    for start in range(0, votes, 5000):
        batch = []
        for k in range(start, min(votes, start + 5000)):
            left, right = ids[a[k]][j[k]], ids[b[k]][j[k]]
            claims = MatchClaims(
                study_id,
                0,
                left[2],
                left[0],
                right[0],
                left[1],
                right[1],
                1_700_000_000 + k,
                k.to_bytes(12, "big"),
            )
            batch.append(MatchVote(claims, str(winners[k]), f"voter-{k % 997}"))
        insert_match_votes(session, batch)
        session.commit()
