"""Serve a match: a study's prompt and two images of two different models in random left/right order,
or, for a best4/order4 study, four images of four different models in random display order.

Nothing is written: the sealed token carries the match, and the vote stores it (see arena.votes). The
images are named for this match only (sealed, expiring with the token): their content addresses
would let a voter who saw a few reveals name the models before voting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imagearena.arena.pool import PoolImage
from imagearena.arena.runtime import Arena
from imagearena.storage.matches import MatchClaims
from imagearena.types import RoundType


@dataclass(frozen=True, slots=True)
class ServedImage:
    sha256: str
    format: str
    name: str  # the sealed per-match name the voter sees (web.media.match_image_url)


@dataclass(frozen=True, slots=True)
class ServedMatch:
    study: str
    token: str
    prompt: str
    round_type: RoundType
    images: tuple[ServedImage, ...]  # display order: left and right first

    @property
    def left_sha256(self) -> str:
        return self.images[0].sha256

    @property
    def right_sha256(self) -> str:
        return self.images[1].sha256

    @property
    def left_name(self) -> str:
        return self.images[0].name

    @property
    def right_name(self) -> str:
        return self.images[1].name


def serve_match(arena: Arena, study: str) -> ServedMatch:
    """Draw a round from the study's cached pool (active sampler when available) and seal it.

    Model names are deliberately absent: they are revealed only by the vote.
    """
    pool = arena.pools.get(study)
    if pool.round_type is RoundType.PAIR:
        model_a, left, model_b, right, prompt_id = pool.draw()
        models, images = [model_a, model_b], [left, right]
    else:
        models, images, prompt_id = pool.draw_group(4)
    return _seal(
        arena,
        pool.name,
        pool.study_id,
        pool.epoch,
        pool.prompts[prompt_id],
        prompt_id,
        pool.round_type,
        models,
        images,
    )


def serve_again(
    arena: Arena, study: str, claims: MatchClaims, prompt: str, images: Sequence[PoolImage]
) -> ServedMatch:
    """The same images in the same order under a fresh token (after an undo), in the current epoch."""
    pool = arena.pools.get(study)
    return _seal(
        arena,
        study,
        claims.study_id,
        pool.epoch,
        prompt,
        claims.prompt_id,
        claims.round_type,
        list(claims.model_ids),
        images,
    )


def _seal(
    arena: Arena,
    study: str,
    study_id: int,
    epoch: int,
    prompt: str,
    prompt_id: int,
    round_type: RoundType,
    models: Sequence[int],
    images: Sequence[PoolImage],
) -> ServedMatch:
    four = round_type is not RoundType.PAIR
    token, claims = arena.signer.issue(
        study_id=study_id,
        epoch=epoch,
        prompt_id=prompt_id,
        left_image_id=images[0].image_id,
        right_image_id=images[1].image_id,
        model_a_id=models[0],
        model_b_id=models[1],
        round_type=round_type,
        more_images=(images[2].image_id, images[3].image_id) if four else (0, 0),
        more_models=(models[2], models[3]) if four else (0, 0),
    )
    return ServedMatch(
        study=study,
        token=token,
        prompt=prompt,
        round_type=round_type,
        images=tuple(
            ServedImage(im.sha256, im.format, arena.signer.image_name(im.sha256, im.format, claims.issued_at))
            for im in images
        ),
    )
