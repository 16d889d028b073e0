"""The rating history of a best-of-four study: the backfilled snapshots are TrueSkill fits of whole
rounds with their groups (one multi-way update per round), as a fresh fit of the same decisions gives,
never a round cut in the middle; and the cached board, grown vote by vote, equals a fresh fit too."""

from __future__ import annotations

from itertools import groupby

import pytest
from roundseed import four_image_study

from imagearena import ratings
from imagearena.arena import leaderboards
from imagearena.arena.board_cache import LeaderboardCache
from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote
from imagearena.ratings.battles import NO_GROUP
from imagearena.ratings.rounds import rounds_to_battles
from imagearena.types import RatingMethod

PICKS = ([1, 2, 2, 2], [2, 2, 1, 2], [1, 1, 1, 1], [2, 1, 2, 2], [1, 1, 1, 1], [2, 2, 2, 1], [1, 2, 2, 2])


def _expected_battles(arena, study: str) -> ratings.Battles:
    """The study's round results read straight from the table, rank-broken by ratings.rounds, each
    round's battles carrying its id as their group."""
    from imagearena.storage.studies import get_study
    from imagearena.storage.votes import iter_rounds

    with arena.read_session() as s:
        row = get_study(s, study)
        rounds = list(iter_rounds(s, row.id, row.epoch))
    models = sorted({n for r in rounds for n in r.models})
    index = {m: i for i, m in enumerate(models)}
    return rounds_to_battles(
        models,
        [[index[n] for n in r.models] for r in rounds],
        [r.ranks for r in rounds],
        [r.round_type for r in rounds],
        [r.id for r in rounds],
        [r.tstamp.timestamp() for r in rounds],
    )


def _fresh(battles: ratings.Battles) -> dict[str, tuple[float, int]]:
    """model: (TrueSkill rating, votes) of a fit from scratch, models with votes only."""
    rows = ratings.leaderboard(battles, method=RatingMethod.TRUESKILL)
    return {r.model: (r.rating, r.votes) for r in rows if r.votes}


def _same(got: dict[str, tuple[float, int]], want: dict[str, tuple[float, int]]) -> None:
    assert {m: v for m, (_, v) in got.items()} == {m: v for m, (_, v) in want.items()}
    assert {m: r for m, (r, _) in got.items()} == pytest.approx({m: r for m, (r, _) in want.items()})


def test_cached_trueskill_board_and_history_equal_fresh_fits_of_whole_rounds(arena):
    arena.boards = LeaderboardCache(slow_board_s=float("inf"))
    study = four_image_study(arena)
    for ranks in PICKS:  # the board is read between votes, so the cached log grows a round at a time
        record_vote(arena, serve_match(arena, study).token, ranks=ranks)
        board = leaderboards.leaderboard(arena, study, RatingMethod.TRUESKILL)
        _same(
            {r.model: (r.rating, r.votes) for r in board.rows if r.votes},
            _fresh(_expected_battles(arena, study)),
        )

    expected = _expected_battles(arena, study)
    assert expected.has_groups and len(expected) == 5 * 3 + 2 * 6  # a pick is 3 battles, no clear best 6
    group = expected.groups()
    ends = {k for k in range(1, len(expected) + 1) if k == len(expected) or group[k] != group[k - 1]}
    assert all(g != NO_GROUP for g in group)

    assert leaderboards.snapshot_if_due(arena, study, 0, methods=(RatingMethod.TRUESKILL,)) == [
        RatingMethod.TRUESKILL
    ]
    points = leaderboards.rating_history(arena, study, RatingMethod.TRUESKILL)
    snapshots = [list(rows) for _, rows in groupby(points, key=lambda p: p.at)]
    assert len(snapshots) > 2  # replayed ones before the current board
    for rows in snapshots:
        battles = sum(p.votes for p in rows) // 2
        assert battles in ends, f"a snapshot after {battles} battles cuts a round in the middle"
        _same(
            {p.model: (p.rating, p.votes) for p in rows if p.votes}, _fresh(expected.take(slice(0, battles)))
        )
