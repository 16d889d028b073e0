"""Undo a decision: append an undo fact for the decision cast with a match token (nothing is deleted),
and serve the same images in the same order again under a fresh token, so the person decides anew.

Leaderboards notice the undo through their cache key (storage.votes.DecisionState counts undos),
exports leave the decision out, and the study's pool is reloaded so that its sampler forgets it.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagearena.arena.matches import ServedMatch, serve_again
from imagearena.arena.pool import PoolImage
from imagearena.arena.runtime import Arena
from imagearena.arena.votes import MAX_VOTER_LENGTH
from imagearena.errors import ImageArenaError
from imagearena.text import check_text


@dataclass(frozen=True, slots=True)
class UndoneDecision:
    undone: int  # the vote id of a pair, the round result id of a four-image round
    study: str
    match: ServedMatch


def undo_decision(arena: Arena, token: str, voter: str = "") -> UndoneDecision:
    """Withdraw the decision cast with ``token``: 400/403 for a token this server did not seal (or an
    expired one), 404 when it was never voted on, 409 when its decision is undone already."""
    from imagearena.storage import matches
    from imagearena.storage.catalog import image_files, prompt_text
    from imagearena.storage.studies import study_name

    claims = arena.signer.verify(token)
    voter = check_text(voter or "", "voter", MAX_VOTER_LENGTH)
    try:
        with arena.writing() as session, session.begin():
            matches.limit_time(session, arena.settings.vote_write_timeout_s)
            decision = matches.insert_undo(session, claims.nonce_hex, voter)
            files = image_files(session, claims.image_ids)
            prompt = prompt_text(session, claims.prompt_id)
            study = study_name(session, claims.study_id)
    except ImageArenaError:
        raise
    except Exception as exc:
        raise matches.vote_failure(exc) from exc
    arena.pools.invalidate(study)
    images = [PoolImage(i, *files[i]) for i in claims.image_ids]
    return UndoneDecision(decision.decision_id, study, serve_again(arena, study, claims, prompt, images))
