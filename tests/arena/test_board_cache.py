"""The leaderboard cache: an incremental vote log that always gives the board a fresh computation gives,
through single votes, evictions and concurrent viewers and voters."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from seeding import STUDY, seed_study

from imagearena import ratings
from imagearena.arena import leaderboards
from imagearena.arena.board_cache import LeaderboardCache, VoteColumns, VoteLog
from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote
from imagearena.storage.studies import get_study
from imagearena.storage.votes import iter_votes
from imagearena.types import RatingRow

WINNERS = ("model_a", "model_b", "tie", "both_bad")
ALWAYS_FRESH = float("inf")  # slow_board_s: no board counts as slow, so none is served stale


def vote(arena, study: str = STUDY, winner: str | None = None) -> None:
    record_vote(arena, serve_match(arena, study).token, winner or random.choice(WINNERS))


def fresh(arena, study: str, method: str) -> list[RatingRow]:
    """The board computed from the stored votes, with no cache involved."""
    with arena.read_session() as session:
        row = get_study(session, study)
        votes = list(iter_votes(session, row.id, row.epoch))
    if not votes:
        return []
    battles = ratings.Battles.from_records(
        [v.model_a for v in votes],
        [v.model_b for v in votes],
        [v.winner for v in votes],
        [v.tstamp.timestamp() for v in votes],
    )
    return list(ratings.leaderboard(battles, method=method, k=arena.settings.elo_k))


def assert_same(rows, expected) -> None:
    assert [(r.model, r.rank, r.votes, r.wins, r.losses, r.ties) for r in rows] == [
        (r.model, r.rank, r.votes, r.wins, r.losses, r.ties) for r in expected
    ]
    assert [r.rating for r in rows] == pytest.approx([r.rating for r in expected])
    assert [r.lower for r in rows] == pytest.approx([r.lower for r in expected], nan_ok=True)
    assert [r.upper for r in rows] == pytest.approx([r.upper for r in expected], nan_ok=True)


def columns(rows, top: int) -> VoteColumns:
    a, b, w, t = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    return VoteColumns(a, b, w, t, (top, top, 0, 0, 0))


def test_a_log_grown_in_pieces_equals_one_built_at_once():
    rng = random.Random(3)
    names = [f"m{i:02d}" for i in range(12)]
    rows = []
    for i in range(3000):
        a, b = rng.sample(names[: 2 + min(10, i // 200)], 2)  # new models keep arriving
        rows.append((a, b, rng.choice(WINNERS), 1000.0 + i))
    log, start, views = VoteLog(capacity=4), 0, []
    while start < len(rows):
        step = rng.randint(1, 90)
        log.append(columns(rows[start : start + step], top=min(start + step, len(rows))))
        start += step
        views.append((len(log.models), log.battles()))
    whole = ratings.Battles.from_records(*map(list, zip(*rows, strict=True)))
    mine = log.battles()
    assert log.state == (3000, 3000, 0, 0, 0) and mine.models == whole.models
    for got, want in ((mine.a, whole.a), (mine.b, whole.b), (mine.outcome, whole.outcome)):
        assert np.array_equal(got, want)
    assert np.array_equal(mine.tstamp, whole.tstamp)
    # a view handed out earlier still reads its own votes, named by its own models
    for n_models, view in views:
        assert len(view.models) == n_models
        n = len(view)
        expected = ratings.Battles.from_records(*map(list, zip(*rows[:n], strict=True)))
        assert [view.models[i] for i in view.a] == [expected.models[i] for i in expected.a]
        assert [view.models[i] for i in view.b] == [expected.models[i] for i in expected.b]
        assert np.array_equal(view.outcome, expected.outcome)


def test_appending_copies_only_when_the_capacity_doubles():
    log = VoteLog(capacity=8)
    log.append(columns([("x", "y", "tie", 1.0)] * 3, top=3))
    first = log.battles()
    log.append(columns([("y", "x", "model_a", 2.0)] * 4, top=7))
    assert np.shares_memory(first.a, log.battles().a)  # grew in place, no copy of the log
    log.append(columns([("x", "y", "model_b", 3.0)] * 5, top=12))
    assert log.capacity == 16 and not np.shares_memory(first.a, log.battles().a)
    assert not first.a.flags.writeable  # the ratings read views they cannot change


def test_a_batch_the_ratings_refuse_leaves_the_log_as_it_was():
    from imagearena.errors import InputError

    log = VoteLog()
    log.append(columns([("x", "y", "tie", 1.0)], top=1))
    with pytest.raises(InputError, match="plays itself"):
        log.append(columns([("y", "z", "tie", 2.0), ("z", "z", "model_a", 3.0)], top=3))
    assert log.state == (1, 1, 0, 0, 0) and log.models == ["x", "y"]


def test_many_views_after_single_votes_equal_a_fresh_computation(arena):
    arena.boards = LeaderboardCache(slow_board_s=ALWAYS_FRESH)
    random.seed(5)
    for _ in range(40):
        vote(arena)
        for method in leaderboards.METHODS:
            assert_same(leaderboards.leaderboard(arena, STUDY, method).rows, fresh(arena, STUDY, method))
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 40


def test_eviction_then_a_new_vote_gives_the_right_board(arena):
    other = "other"
    with arena.session() as session:
        seed_study(session, arena.media_store, other)
    arena.boards = LeaderboardCache(max_rounds=1, max_windows=1, slow_board_s=ALWAYS_FRESH)
    random.seed(7)
    for _ in range(6):
        vote(arena)
        vote(arena, other)
    for study in (STUDY, other, STUDY):  # each view evicts the other study's whole round
        leaderboards.leaderboard(arena, study, "bt")
    assert len(arena.boards) == 1
    vote(arena)
    vote(arena, other)
    for study in (other, STUDY):
        for method in leaderboards.METHODS:
            board = leaderboards.leaderboard(arena, study, method)
            assert board.votes == 7
            assert_same(board.rows, fresh(arena, study, method))


def test_evicted_windows_are_read_again(arena):
    from datetime import UTC, datetime, timedelta

    arena.boards = LeaderboardCache(max_windows=1, slow_board_s=ALWAYS_FRESH)
    for _ in range(3):
        vote(arena, winner="model_a")
    past = datetime.now(UTC) - timedelta(days=1)
    assert leaderboards.leaderboard(arena, STUDY, "elo", since=past).votes == 3
    assert leaderboards.leaderboard(arena, STUDY, "elo", until=past).votes == 0  # evicts the first window
    vote(arena, winner="model_a")
    assert leaderboards.leaderboard(arena, STUDY, "elo", since=past).votes == 4
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 4


def test_a_new_round_replaces_the_old_one_in_the_cache(arena):
    from imagearena.arena import studies

    vote(arena)
    leaderboards.leaderboard(arena, STUDY, "elo")
    studies.reset_study(arena, STUDY)
    vote(arena)
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 1
    assert [epoch for _, epoch in arena.boards.rounds()] == [1]


def test_concurrent_viewers_and_voters_see_consistent_boards(arena):
    """Boards seen while votes stream in are each a board of some prefix of the votes, never less than
    the viewer saw before; once voting stops, every method gives the fresh computation."""
    per_voter, voters, viewers = 15, 4, 4
    arena.boards = LeaderboardCache(slow_board_s=ALWAYS_FRESH)
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[list[int]] = [[] for _ in range(viewers)]

    def voter(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(per_voter):
                record_vote(arena, serve_match(arena, STUDY).token, rng.choice(WINNERS))
        except BaseException as e:  # reported below
            errors.append(e)

    def viewer(i: int) -> None:
        rng = random.Random(100 + i)
        try:
            while not stop.is_set():
                board = leaderboards.leaderboard(arena, STUDY, rng.choice(leaderboards.METHODS))
                assert sum(r.votes for r in board.rows) == 2 * board.votes
                assert all(r.wins + r.losses + r.ties == r.votes for r in board.rows)
                seen[i].append(board.votes)
                leaderboards.win_rates(arena, STUDY)
        except BaseException as e:  # reported below
            errors.append(e)

    view_threads = [threading.Thread(target=viewer, args=(i,)) for i in range(viewers)]
    vote_threads = [threading.Thread(target=voter, args=(i,)) for i in range(voters)]
    for t in view_threads + vote_threads:
        t.start()
    for t in vote_threads:
        t.join()
    stop.set()
    for t in view_threads:
        t.join()
    assert not errors, errors
    assert all(s and s == sorted(s) for s in seen), seen  # each viewer saw the count grow, never shrink
    for method in leaderboards.METHODS:
        board = leaderboards.leaderboard(arena, STUDY, method)
        assert board.votes == per_voter * voters
        assert_same(board.rows, fresh(arena, STUDY, method))
