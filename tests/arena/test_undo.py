"""Undo: an appended fact that withdraws one decision from leaderboards, exports, counts and the
sampler, and serves the same images again under a fresh token; nothing is deleted."""

from __future__ import annotations

import json

import pytest
from roundseed import four_image_study
from seeding import STUDY
from sqlalchemy import func, select

from imagearena.arena import export, leaderboards, studies
from imagearena.arena.board_cache import LeaderboardCache
from imagearena.arena.matches import serve_match
from imagearena.arena.undo import undo_decision
from imagearena.arena.votes import record_vote
from imagearena.errors import ConflictError, ForbiddenError, UnknownNameError
from imagearena.storage.models import RoundResult, Undo, Vote


def count(arena, table) -> int:
    with arena.read_session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_undoing_a_pair_vote_withdraws_it_everywhere_and_deletes_nothing(arena):
    arena.boards = LeaderboardCache(slow_board_s=float("inf"))
    kept = record_vote(arena, serve_match(arena, STUDY).token, "model_a")
    served = serve_match(arena, STUDY)
    undone = record_vote(arena, served.token, "model_b")
    before = leaderboards.leaderboard(arena, STUDY, "elo")  # cached: the undo must be noticed
    assert before.votes == 2

    answer = undo_decision(arena, served.token, voter="v")
    assert answer.undone == undone.vote_id and answer.study == STUDY
    assert [im.sha256 for im in answer.match.images] == [im.sha256 for im in served.images]
    assert answer.match.token != served.token and answer.match.prompt == served.prompt

    assert count(arena, Vote) == 2 and count(arena, Undo) == 1  # appended, nothing deleted
    for method in leaderboards.METHODS:
        board = leaderboards.leaderboard(arena, STUDY, method)
        assert board.votes == 1
        assert {r.model for r in board.rows if r.votes} == {kept.model_a, kept.model_b}
    (row,) = [json.loads(line) for line in export.votes_jsonl(arena, STUDY)]
    assert (row["model_a"], row["winner"]) == (kept.model_a, "model_a")
    assert studies.list_studies(arena)[0].votes == 1

    again = record_vote(arena, answer.match.token, "tie")  # the person decides again on the same images
    assert (again.model_a, again.model_b) == (undone.model_a, undone.model_b)
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 2


def test_a_decision_is_undone_once_and_only_a_voted_token_can_be_undone(arena):
    served = serve_match(arena, STUDY)
    with pytest.raises(UnknownNameError, match="no decision was cast"):
        undo_decision(arena, served.token)
    record_vote(arena, served.token, "tie")
    undo_decision(arena, served.token)
    with pytest.raises(ConflictError, match="already undone"):
        undo_decision(arena, served.token)
    with pytest.raises(ConflictError):  # and the undone token cannot be voted again either
        record_vote(arena, served.token, "tie")
    assert count(arena, Undo) == 1


def test_a_forged_token_cannot_undo(arena):
    from imagearena.arena.tokens import TokenSigner

    forged, _ = TokenSigner(b"f" * 32).issue(
        study_id=1, epoch=0, prompt_id=1, left_image_id=1, right_image_id=2, model_a_id=1, model_b_id=2
    )
    with pytest.raises(ForbiddenError):
        undo_decision(arena, forged)


def test_undoing_a_round_withdraws_all_its_battles(arena):
    study = four_image_study(arena, round_type="order4")
    first = record_vote(arena, serve_match(arena, study).token, ranks=[1, 2, 3, 4])
    served = serve_match(arena, study)
    record_vote(arena, served.token, ranks=[4, 3, 2, 1])
    assert leaderboards.leaderboard(arena, study, "trueskill").votes == 12
    answer = undo_decision(arena, served.token)
    assert answer.match.round_type == "order4" and len(answer.match.images) == 4
    assert [im.sha256 for im in answer.match.images] == [im.sha256 for im in served.images]
    assert count(arena, RoundResult) == 2
    for method in leaderboards.METHODS:
        assert leaderboards.leaderboard(arena, study, method).votes == 6
    rows = [json.loads(line) for line in export.votes_jsonl(arena, study)]
    assert {r["round_id"] for r in rows} == {first.vote_id}


def test_the_pool_sampler_forgets_an_undone_decision(arena):
    """The pool is reloaded after an undo, and its sampler's warm start skips the undone vote."""
    observed: list[int] = []

    class Counting:
        def __init__(self, models):
            from imagearena.ratings.sampling import make_sampler

            self.inner = make_sampler("uniform", models)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def observe_battles(self, battles):
            observed.append(len(battles))
            self.inner.observe_battles(battles)

    arena.sampler_factory = Counting
    arena.pools.invalidate()
    tokens = [serve_match(arena, STUDY).token for _ in range(3)]
    for token in tokens:
        record_vote(arena, token, "model_a")
    arena.pools.invalidate(STUDY)
    serve_match(arena, STUDY)
    undo_decision(arena, tokens[1])
    serve_match(arena, STUDY)
    assert observed[-2:] == [3, 2]


def test_concurrent_undos_of_one_decision_store_one(arena):
    from concurrent.futures import ThreadPoolExecutor

    served = serve_match(arena, STUDY)
    record_vote(arena, served.token, "model_a")

    def attempt(_: int) -> str:
        try:
            undo_decision(arena, served.token)
        except ConflictError:
            return "conflict"
        return "undone"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["conflict"] * 7 + ["undone"]
    assert count(arena, Undo) == 1
