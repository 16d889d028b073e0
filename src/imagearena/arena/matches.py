"""Serve a match: a study's prompt and two images of two different models, in random left/right order.

Nothing is written: the sealed token carries the match, and the vote stores it (see arena.votes). The
images are named for this match only (sealed, expiring with the token): their content addresses
would let a voter who saw a few reveals name the models before voting.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagearena.arena.runtime import Arena


@dataclass(frozen=True, slots=True)
class ServedMatch:
    study: str
    token: str
    prompt: str
    left_sha256: str
    left_format: str
    right_sha256: str
    right_format: str
    left_name: str  # the sealed per-match names the voter sees (web.media.match_image_url)
    right_name: str


def serve_match(arena: Arena, study: str) -> ServedMatch:
    """Draw a pair from the study's cached pool (active sampler when available) and sign it.

    Model names are deliberately absent: they are revealed only by the vote.
    """
    pool = arena.pools.get(study)
    model_a, left, model_b, right, prompt_id = pool.draw()
    token, claims = arena.signer.issue(
        study_id=pool.study_id,
        epoch=pool.epoch,
        prompt_id=prompt_id,
        left_image_id=left.image_id,
        right_image_id=right.image_id,
        model_a_id=model_a,
        model_b_id=model_b,
    )
    return ServedMatch(
        study=pool.name,
        token=token,
        prompt=pool.prompts[prompt_id],
        left_sha256=left.sha256,
        left_format=left.format,
        right_sha256=right.sha256,
        right_format=right.format,
        left_name=arena.signer.image_name(left.sha256, left.format, claims.issued_at),
        right_name=arena.signer.image_name(right.sha256, right.format, claims.issued_at),
    )
