"""Record a vote on a served match: verify the token, then store match and decision in one transaction.
A pair round takes a ``winner``; a four-image round takes ``ranks`` (one per image in display order,
1 = best, equal ranks tie), checked by ratings.rounds.validate_ranks and stored as one round result.

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
from collections.abc import Sequence
from dataclasses import dataclass

from imagearena.arena.runtime import Arena
from imagearena.errors import InputError
from imagearena.storage.matches import MatchClaims, MatchVote
from imagearena.text import check_text
from imagearena.types import Outcome, RoundType

WINNERS = tuple(o.value for o in Outcome)
MAX_VOTER_LENGTH = 100


@dataclass(frozen=True, slots=True)
class RecordedVote:
    """A stored decision and what it reveals: the models in display order (model_a is the left
    image's), the winner of a pair or the ranks of a four-image round."""

    vote_id: int
    study: str
    models: tuple[str, ...]
    winner: str | None
    round_type: RoundType = RoundType.PAIR
    ranks: tuple[int, ...] | None = None

    @property
    def model_a(self) -> str:
        return self.models[0]

    @property
    def model_b(self) -> str:
        return self.models[1]


def check_winner(winner: str) -> str:
    if winner not in WINNERS:
        raise InputError(f"unknown winner {winner!r}: use one of {', '.join(WINNERS)}")
    return winner


def _prepare(
    arena: Arena,
    token: str,
    winner: str | None,
    voter: str,
    judge: str,
    ranks: Sequence[int] | None = None,
) -> tuple[MatchClaims, MatchVote]:
    if winner is not None:
        check_winner(winner)
    claims = arena.signer.verify(token)
    checked = check_decision(claims.round_type, winner, ranks)
    item = MatchVote(
        claims,
        winner or "",
        voter=check_text(voter or "", "voter", MAX_VOTER_LENGTH),
        judge=check_text(judge or "human", "judge", MAX_VOTER_LENGTH),
        ranks=checked,
    )
    return claims, item


def check_decision(round_type: RoundType, winner: str | None, ranks: Sequence[int] | None) -> tuple[int, ...]:
    """The decision fits the round: a winner for a pair, ranks for a four-image round (returned as
    competition ranks); InputError (400) otherwise."""
    from imagearena.ratings.rounds import validate_ranks

    if round_type is RoundType.PAIR:
        if ranks is not None or winner is None:
            raise InputError(
                "this match is a pair round: send winner (model_a, model_b, tie or both_bad), not ranks"
            )
        return ()
    if winner is not None or ranks is None:
        raise InputError(
            f"this match is a {round_type.value} round of four images: send ranks (four integers, one per "
            "image in display order, 1 = best), not winner"
        )
    return validate_ranks(round_type, ranks)


def record_vote(
    arena: Arena,
    token: str,
    winner: str | None = None,
    voter: str = "",
    judge: str = "human",
    *,
    ranks: Sequence[int] | None = None,
) -> RecordedVote:
    """Store one decision and reveal the models (model_a = left image)."""
    claims, item = _prepare(arena, token, winner, voter, judge, ranks)
    vote_id = arena.vote_writer.submit(item).result()
    return _reveal(arena, claims, item, vote_id)


async def record_vote_async(
    arena: Arena,
    token: str,
    winner: str | None = None,
    voter: str = "",
    judge: str = "human",
    *,
    ranks: Sequence[int] | None = None,
) -> RecordedVote:
    """The same as record_vote, without holding a thread while the vote waits for its commit.

    If the caller is cancelled (the client went away) before the write starts, the vote is dropped."""
    claims, item = _prepare(arena, token, winner, voter, judge, ranks)
    vote_id = await asyncio.wrap_future(arena.vote_writer.submit(item))
    return _reveal(arena, claims, item, vote_id)


def _reveal(arena: Arena, claims: MatchClaims, item: MatchVote, vote_id: int) -> RecordedVote:
    pool = arena.pools.peek(claims.study_id)
    ids = claims.model_ids
    if pool is not None and all(m in pool.models for m in ids):
        models, study = tuple(pool.models[m] for m in ids), pool.name
        if pool.epoch == claims.epoch:
            if claims.is_pair:
                pool.observe(models[0], models[1], item.winner)
            else:
                pool.observe_round(models, item.ranks, claims.round_type)
    else:
        models, study = _names(arena, ids, claims.study_id)
    if claims.is_pair:
        return RecordedVote(vote_id, study, models, item.winner)
    return RecordedVote(vote_id, study, models, None, claims.round_type, item.ranks)


def _names(arena: Arena, model_ids: Sequence[int], study_id: int) -> tuple[tuple[str, ...], str]:
    from imagearena.storage.catalog import model_names
    from imagearena.storage.studies import study_name

    with arena.read_session() as session:
        names = model_names(session, model_ids)
        return tuple(names[m] for m in model_ids), study_name(session, study_id)
