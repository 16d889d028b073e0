"""Four-image rounds in the arena on a real database (SQLite file and PostgreSQL): serving four images
of four models, one round result per decision, leaderboards and exports from pair votes and rounds
together."""

from __future__ import annotations

import json

import numpy as np
import pytest
from roundseed import FIVE, four_image_study
from seeding import STUDY
from sqlalchemy import func, select

from imagearena import ratings
from imagearena.arena import export, leaderboards
from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote
from imagearena.errors import ConflictError, InputError
from imagearena.ratings.rounds import rounds_to_battles
from imagearena.storage.models import Image, Match, RoundResult, Vote


def count(arena, table) -> int:
    with arena.read_session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_a_best4_round_shows_four_models_and_stores_one_result_in_display_order(arena):
    study = four_image_study(arena)
    m = serve_match(arena, study)
    assert m.round_type == "best4" and len(m.images) == 4
    assert len({im.sha256 for im in m.images}) == 4
    assert count(arena, Match) == 0  # serving writes nothing
    v = record_vote(arena, m.token, ranks=[2, 1, 2, 2], voter="v1")
    assert v.round_type == "best4" and v.ranks == (2, 1, 2, 2) and v.winner is None
    assert len(set(v.models)) == 4 and set(v.models) <= set(FIVE)
    with arena.read_session() as s:
        result = s.get(RoundResult, v.vote_id)
        match = s.get(Match, result.match_id)
        shown = [match.left_image_id, match.right_image_id, match.image_3_id, match.image_4_id]
        assert [s.get(Image, i).sha256 for i in shown] == [im.sha256 for im in m.images]
        assert [s.get(Image, i).model.name for i in shown] == list(v.models)
        assert (result.rank_1, result.rank_2, result.rank_3, result.rank_4) == (2, 1, 2, 2)
        assert (result.round_type, result.voter) == ("best4", "v1")
    assert count(arena, Vote) == 0


def test_order4_ranks_are_stored_as_competition_ranks(arena):
    study = four_image_study(arena, round_type="order4")
    v = record_vote(arena, serve_match(arena, study).token, ranks=[1, 2, 2, 3])
    assert v.ranks == (1, 2, 2, 4)


@pytest.mark.parametrize(
    ("winner", "ranks", "message"),
    [
        ("model_a", None, "send ranks"),
        (None, None, "send ranks"),
        (None, [1, 2, 3, 4], "best4 ranks"),  # an order is not a pick
        (None, [1, 1, 2, 2], "best4 ranks"),
        (None, [1, 2, 2], "best4 ranks"),
        (None, [0, 2, 2, 2], "best4 ranks"),
    ],
)
def test_a_decision_that_does_not_fit_a_best4_round_is_refused_and_stores_nothing(
    arena, winner, ranks, message
):
    study = four_image_study(arena)
    token = serve_match(arena, study).token
    with pytest.raises(InputError, match=message):
        record_vote(arena, token, winner, ranks=ranks)
    assert count(arena, Match) == count(arena, RoundResult) == 0
    record_vote(arena, token, ranks=[1, 1, 1, 1])  # the token is still good for a decision that fits


def test_ranks_on_a_pair_round_are_refused(arena):
    token = serve_match(arena, STUDY).token
    with pytest.raises(InputError, match="pair round: send winner"):
        record_vote(arena, token, ranks=[1, 2, 2, 2])
    with pytest.raises(InputError, match="pair round"):
        record_vote(arena, token, "tie", ranks=[1, 2])


def test_a_replayed_round_conflicts(arena):
    study = four_image_study(arena)
    token = serve_match(arena, study).token
    record_vote(arena, token, ranks=[1, 2, 2, 2])
    with pytest.raises(ConflictError):
        record_vote(arena, token, ranks=[2, 2, 1, 2])
    assert count(arena, RoundResult) == 1


def test_a_study_without_four_models_on_one_prompt_cannot_serve_a_round(arena):
    study = four_image_study(arena, name="three", models=FIVE[:3])
    with pytest.raises(ConflictError, match="no prompt with images from 4 different models"):
        serve_match(arena, study)


def _expected_battles(arena, study: str) -> ratings.Battles:
    """The study's pair votes and rounds read straight from the tables, rank-broken with ratings.rounds."""
    from imagearena.storage.votes import iter_rounds, iter_votes

    with arena.read_session() as s:
        from imagearena.storage.studies import get_study

        row = get_study(s, study)
        votes = list(iter_votes(s, row.id, row.epoch))
        rounds = list(iter_rounds(s, row.id, row.epoch))
    models = sorted(
        {n for r in rounds for n in r.models} | {v.model_a for v in votes} | {v.model_b for v in votes}
    )
    index = {m: i for i, m in enumerate(models)}
    parts = []
    if votes:
        parts.append(
            ratings.Battles.from_records(
                [v.model_a for v in votes],
                [v.model_b for v in votes],
                [v.winner for v in votes],
                [v.tstamp.timestamp() for v in votes],
            )
        )
    if rounds:
        parts.append(
            rounds_to_battles(
                models,
                [[index[n] for n in r.models] for r in rounds],
                [r.ranks for r in rounds],
                [r.round_type for r in rounds],
                [r.id for r in rounds],
                [r.tstamp.timestamp() for r in rounds],
            )
        )
    both = ratings.Battles.concat(parts)
    return both.take(both.order())


def _switch(arena, study: str, round_type: str) -> None:
    from imagearena.storage.studies import get_study, set_round_type

    with arena.session() as s, s.begin():
        set_round_type(s, get_study(s, study).id, round_type)
    arena.pools.invalidate(study)


def test_leaderboards_read_pair_votes_and_rank_broken_rounds_together(arena):
    study = four_image_study(arena, round_type="pair")
    for winner in ("model_a", "tie", "model_b", "both_bad"):
        record_vote(arena, serve_match(arena, study).token, winner)
    _switch(arena, study, "order4")
    rng = np.random.default_rng(4)
    for i in range(12):
        if i == 6:  # both kinds of four-image round in one log
            _switch(arena, study, "best4")
        ranks = [int(r) for r in rng.integers(1, 5, size=4)] if i < 6 else list(np.roll([1, 2, 2, 2], i))
        record_vote(arena, serve_match(arena, study).token, ranks=ranks)
    expected = _expected_battles(arena, study)
    assert expected.has_groups and len(expected) == 4 + 6 * 6 + 6 * 3
    for method in leaderboards.METHODS:
        board = leaderboards.leaderboard(arena, study, method)
        want = ratings.leaderboard(expected, method=method, k=arena.settings.elo_k)
        assert board.votes == len(expected)
        assert [(r.model, r.votes, r.wins, r.losses, r.ties) for r in board.rows] == [
            (r.model, r.votes, r.wins, r.losses, r.ties) for r in want
        ]
        assert [r.rating for r in board.rows] == pytest.approx([r.rating for r in want])


def test_the_cached_board_grows_with_rounds_like_a_fresh_one(arena):
    from imagearena.arena.board_cache import LeaderboardCache

    arena.boards = LeaderboardCache(slow_board_s=float("inf"))
    study = four_image_study(arena)
    for i in range(6):
        record_vote(arena, serve_match(arena, study).token, ranks=[1, 2, 2, 2] if i % 2 else [1, 1, 1, 1])
        board = leaderboards.leaderboard(arena, study, "trueskill")
        want = ratings.leaderboard(_expected_battles(arena, study), method="trueskill")
        assert [r.rating for r in board.rows] == pytest.approx([r.rating for r in want])
    assert board.votes == 3 * 3 + 3 * 6  # three picks (3 battles each), three "no clear best" (6 ties)


def test_exports_write_rounds_as_their_battles_with_round_id_and_type(arena):
    record_vote(arena, serve_match(arena, STUDY).token, "tie")
    study = four_image_study(arena, name=STUDY + "-4", round_type="order4")
    v = record_vote(arena, serve_match(arena, study).token, ranks=[4, 3, 2, 1])
    rows = [json.loads(line) for line in export.votes_jsonl(arena, study)]
    assert len(rows) == 6 and {r["round_id"] for r in rows} == {v.vote_id}
    assert {r["round_type"] for r in rows} == {"order4"}
    assert all(r["winner"] == "model_b" for r in rows)  # the later display position always ranked better
    assert [(r["model_a"], r["model_b"]) for r in rows] == [
        (v.models[i], v.models[j]) for i, j in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    ]
    (pair,) = [json.loads(line) for line in export.votes_jsonl(arena, STUDY)]
    assert pair["round_id"] is None and pair["round_type"] == "pair"
    lines = "".join(export.votes_csv(arena, study)).splitlines()
    assert lines[0].endswith(",round_id,round_type") and lines[1].endswith(f",{v.vote_id},order4")


def test_pairs_and_rounds_share_a_group_commit_and_a_replay_fails_alone(arena):
    """One batch of the writer: pair votes and round results in their own tables, ids in order, and
    a replayed round refused on its own while the rest of the batch is stored."""
    from imagearena.arena.writer import write_match_votes
    from imagearena.storage.matches import MatchVote

    study = four_image_study(arena)

    def pair() -> MatchVote:
        return MatchVote(arena.signer.verify(serve_match(arena, STUDY).token), "tie")

    def four() -> MatchVote:
        return MatchVote(arena.signer.verify(serve_match(arena, study).token), "", ranks=(1, 2, 2, 2))

    first = four()
    (first_id,) = write_match_votes(arena.writing, [first])
    assert isinstance(first_id, int)
    batch = [pair(), four(), first, pair(), four()]
    results = write_match_votes(arena.writing, batch)
    assert type(results[2]).__name__ == "ConflictError"
    ok = [r for i, r in enumerate(results) if i != 2]
    assert all(isinstance(r, int) for r in ok), results
    with arena.read_session() as s:
        assert sorted(s.scalars(select(Vote.id))) == sorted([results[0], results[3]])
        rounds = sorted(s.scalars(select(RoundResult.id)))
    assert rounds == sorted([results[1], results[4], first_id])


def test_windows_and_snapshots_read_rounds_too(arena):
    from datetime import UTC, datetime, timedelta

    study = four_image_study(arena, round_type="order4")
    for _ in range(3):
        record_vote(arena, serve_match(arena, study).token, ranks=[1, 2, 3, 4])
    now = datetime.now(UTC)
    window = leaderboards.leaderboard(
        arena, study, "bt", since=now - timedelta(hours=1), until=now + timedelta(hours=1)
    )
    assert window.votes == 18
    empty = leaderboards.leaderboard(arena, study, "bt", until=now - timedelta(hours=1))
    assert empty.votes == 0 and empty.rows == []
    assert leaderboards.win_rates(arena, study).battles  # the win-rate matrix counts round battles
    assert sorted(leaderboards.snapshot_if_due(arena, study, min_interval_s=0)) == sorted(
        leaderboards.METHODS
    )
    points = leaderboards.rating_history(arena, study, "trueskill")
    assert {p.model for p in points} <= set(FIVE) and points[-1].votes > 0
