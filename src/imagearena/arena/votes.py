"""Record a vote on a served match: verify the token, then store match and vote in one transaction.

A forged token is refused (403), a malformed or expired one too (400), a second vote on the same
token conflicts (409) and stores nothing: the match nonce is unique in the database, so this holds
across threads, processes and servers sharing one database. Votes go through the arena's group-commit
writer (arena.writer) and are acknowledged only once committed.

The answer never contradicts the database: the wait for the writer has no timeout of its own (a vote
answered "failed" could still be committed after it); the database work is what is bounded
(``vote_write_timeout_s``), and a write that could not finish is rolled back and answered 503, after
which the same token may be sent again. The voter id and judge are checked here, before they join a
group commit, so text no database can store is refused for its sender alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from imagearena.arena.runtime import Arena
from imagearena.errors import InputError
from imagearena.storage.matches import MatchClaims, MatchVote
from imagearena.text import check_text
from imagearena.types import Outcome

WINNERS = tuple(o.value for o in Outcome)
MAX_VOTER_LENGTH = 100


@dataclass(frozen=True, slots=True)
class RecordedVote:
    vote_id: int
    study: str
    model_a: str
    model_b: str
    winner: str


def check_winner(winner: str) -> str:
    if winner not in WINNERS:
        raise InputError(f"unknown winner {winner!r}: use one of {', '.join(WINNERS)}")
    return winner


def _prepare(arena: Arena, token: str, winner: str, voter: str, judge: str) -> tuple[MatchClaims, MatchVote]:
    check_winner(winner)
    claims = arena.signer.verify(token)
    item = MatchVote(
        claims,
        winner,
        voter=check_text(voter or "", "voter", MAX_VOTER_LENGTH),
        judge=check_text(judge or "human", "judge", MAX_VOTER_LENGTH),
    )
    return claims, item


def record_vote(arena: Arena, token: str, winner: str, voter: str = "", judge: str = "human") -> RecordedVote:
    """Store one vote and reveal the two models (model_a = left image)."""
    claims, item = _prepare(arena, token, winner, voter, judge)
    vote_id = arena.vote_writer.submit(item).result()
    return _reveal(arena, claims, winner, vote_id)


async def record_vote_async(
    arena: Arena, token: str, winner: str, voter: str = "", judge: str = "human"
) -> RecordedVote:
    """The same as record_vote, without holding a thread while the vote waits for its commit.

    If the caller is cancelled (the client went away) before the write starts, the vote is dropped."""
    claims, item = _prepare(arena, token, winner, voter, judge)
    vote_id = await asyncio.wrap_future(arena.vote_writer.submit(item))
    return _reveal(arena, claims, winner, vote_id)


def _reveal(arena: Arena, claims: MatchClaims, winner: str, vote_id: int) -> RecordedVote:
    pool = arena.pools.peek(claims.study_id)
    if pool is not None and claims.model_a_id in pool.models and claims.model_b_id in pool.models:
        model_a, model_b, study = pool.models[claims.model_a_id], pool.models[claims.model_b_id], pool.name
        if pool.epoch == claims.epoch:
            pool.observe(model_a, model_b, winner)
    else:
        model_a, model_b, study = _names(arena, claims.model_a_id, claims.model_b_id, claims.study_id)
    return RecordedVote(vote_id, study, model_a, model_b, winner)


def _names(arena: Arena, model_a_id: int, model_b_id: int, study_id: int) -> tuple[str, str, str]:
    from imagearena.storage.catalog import model_names
    from imagearena.storage.studies import study_name

    with arena.read_session() as session:
        names = model_names(session, [model_a_id, model_b_id])
        return names[model_a_id], names[model_b_id], study_name(session, study_id)
