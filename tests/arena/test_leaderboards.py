"""Leaderboards, windows, snapshots, resets and exports, all derived from stored votes."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from seeding import STUDY

from imagearena import ratings
from imagearena.arena import export, leaderboards, studies
from imagearena.arena.board_cache import LeaderboardCache
from imagearena.arena.matches import serve_match
from imagearena.arena.votes import record_vote
from imagearena.battlelog import parse_battles
from imagearena.errors import ConflictError, InputError, UnknownNameError


def cast(arena, n, mixed=False):
    """n votes (left wins, or a mix of all four outcomes); returns (model_a, model_b, winner) as recorded."""
    out = []
    for i in range(n):
        w = ["model_a", "model_b", "tie", "both_bad"][i % 4] if mixed else "model_a"
        r = record_vote(arena, serve_match(arena, STUDY).token, w)
        out.append((r.model_a, r.model_b, w))
    return out


def test_leaderboard_is_the_ratings_engine_over_the_votes(arena):
    cast_votes = cast(arena, 24, mixed=True)
    battles = ratings.Battles.from_records(*map(list, zip(*cast_votes, strict=True)))
    for method in leaderboards.METHODS:
        board = leaderboards.leaderboard(arena, STUDY, method)
        expected = ratings.leaderboard(battles, method=method)
        assert board.votes == 24
        assert [(r.model, r.rank, r.votes, r.wins) for r in board.rows] == [
            (r.model, r.rank, r.votes, r.wins) for r in expected
        ]
        assert [r.rating for r in board.rows] == pytest.approx([r.rating for r in expected])
    rows = leaderboards.leaderboard(arena, STUDY, "bt").row_dicts()
    assert set(rows[0]) == {
        "model",
        "rating",
        "lower",
        "upper",
        "votes",
        "wins",
        "losses",
        "ties",
        "rank",
        "win_rate",
    }
    assert all(r["lower"] <= r["rating"] <= r["upper"] for r in rows)


def test_a_new_vote_refreshes_the_cached_leaderboard(arena):
    cast(arena, 3)
    first = leaderboards.leaderboard(arena, STUDY, "elo")
    assert leaderboards.leaderboard(arena, STUDY, "elo") is first  # cached
    cast(arena, 1)
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 4


def test_since_and_until_select_a_window(arena):
    cast(arena, 3)
    time.sleep(0.05)
    middle = datetime.now(UTC)
    time.sleep(0.05)
    cast(arena, 2)
    assert leaderboards.leaderboard(arena, STUDY, "elo", since=middle).votes == 2
    assert leaderboards.leaderboard(arena, STUDY, "elo", until=middle).votes == 3
    future = middle + timedelta(days=1)
    assert leaderboards.leaderboard(arena, STUDY, "elo", since=future).rows == []


def test_parse_time_accepts_iso_and_unix_seconds():
    assert leaderboards.parse_time("2026-01-31", "since") == datetime(2026, 1, 31, tzinfo=UTC)
    assert leaderboards.parse_time("2026-01-31T12:00:00Z", "since") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert leaderboards.parse_time("1700000000", "since") == datetime.fromtimestamp(1700000000, UTC)
    assert leaderboards.parse_time(None, "since") is None
    with pytest.raises(InputError, match="since"):
        leaderboards.parse_time("yesterday", "since")


def test_unknown_method(arena):
    with pytest.raises(InputError, match="elo, trueskill, bt"):
        leaderboards.leaderboard(arena, STUDY, "glicko")


def test_win_rates_come_from_the_ratings_engine(arena):
    cast(arena, 12, mixed=True)
    w = leaderboards.win_rates(arena, STUDY)
    models, expected = ratings.win_rate_matrix(leaderboards.study_battles(arena, 1, 0)[1])
    assert w.models == models
    for i in range(len(models)):
        assert w.win_rate[i][i] is None
        for j in range(len(models)):
            if w.battles[i][j]:
                assert w.win_rate[i][j] == pytest.approx(expected[i][j])
                assert w.win_rate[i][j] + w.win_rate[j][i] == pytest.approx(1.0)


def test_snapshots_build_the_rating_history(arena):
    assert leaderboards.snapshot_if_due(arena, STUDY, 0) == []  # no votes, nothing to snapshot
    first_votes = cast(arena, 4, mixed=True)
    assert leaderboards.snapshot_if_due(arena, STUDY, 0) == list(leaderboards.METHODS)
    assert leaderboards.snapshot_if_due(arena, STUDY, 0) == []  # no new vote since
    cast(arena, 4)
    assert leaderboards.snapshot_if_due(arena, STUDY, 3600) == []  # too soon
    assert leaderboards.snapshot_if_due(arena, STUDY, 0, methods=("elo",)) == ["elo"]
    history = leaderboards.rating_history(arena, STUDY, "elo")
    times = sorted({p.at for p in history})
    # the first snapshot replayed the votes before it (after 1, 2 and 3 of the 4), then one more
    assert len(times) == 3 + 1 + 1
    after_one = {p.model: p.rating for p in history if p.at == times[0]}
    one = ratings.leaderboard(ratings.Battles.from_records(*map(list, zip(*first_votes[:1], strict=True))))
    assert after_one == pytest.approx({r.model: r.rating for r in one})
    latest = {p.model: p.rating for p in history if p.at == times[-1]}
    board = {r.model: r.rating for r in leaderboards.leaderboard(arena, STUDY, "elo").rows}
    assert latest == pytest.approx(board)
    assert len({p.at for p in leaderboards.rating_history(arena, STUDY, "bt")}) == 4


def test_the_current_board_continues_the_stored_history(arena):
    """A rating chart ends at the ratings shown now: the board's lines as points of the same shape as the
    stored snapshots, at the time the board was computed."""
    cast(arena, 4, mixed=True)
    leaderboards.snapshot_if_due(arena, STUDY, 0)
    cast(arena, 4)
    board = leaderboards.leaderboard(arena, STUDY, "elo")
    stored = leaderboards.rating_history(arena, STUDY, "elo")
    points = leaderboards.current_points(board)
    assert {type(p) for p in points} == {type(stored[0])}
    assert [(p.model, p.rating, p.lower, p.upper, p.votes) for p in points] == [
        (r.model, r.rating, r.lower, r.upper, r.votes) for r in board.rows
    ]
    assert {p.at for p in points} == {board.computed_at} and board.computed_at > stored[-1].at


def test_no_replay_for_large_rounds(arena):
    cast(arena, 4)
    leaderboards.snapshot_if_due(arena, STUDY, 0, methods=("elo",), backfill_max_votes=3)
    assert len({p.at for p in leaderboards.rating_history(arena, STUDY, "elo")}) == 1


def test_reset_archives_votes_and_starts_a_new_round(arena):
    cast(arena, 5)
    pending = serve_match(arena, STUDY)  # served before the reset, voted after it
    assert studies.reset_study(arena, STUDY) == 1
    assert leaderboards.leaderboard(arena, STUDY, "elo").rows == []
    summary = studies.study_detail(arena, STUDY).summary
    assert (summary.votes, summary.archived_votes, summary.epoch) == (0, 5, 1)
    record_vote(arena, pending.token, "model_a")  # counted in the round it was served in
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 0
    cast(arena, 2)
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 2
    assert len(list(export.votes_jsonl(arena, STUDY))) == 2
    archived = [json.loads(line) for line in export.votes_jsonl(arena, STUDY, archived=True)]
    assert len(archived) == 8 and sorted({r["epoch"] for r in archived}) == [0, 1]


def test_exports_are_battle_logs_other_tools_read(arena):
    recorded = cast(arena, 9, mixed=True)
    lines = list(export.votes_jsonl(arena, STUDY))
    rows = [json.loads(line) for line in lines]
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in rows] == recorded
    assert all(r["judge"] == "human" and isinstance(r["tstamp"], float) for r in rows)
    assert [r["tstamp"] for r in rows] == sorted(r["tstamp"] for r in rows)
    text = "".join(export.votes_csv(arena, STUDY))
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in table] == recorded
    for data, fmt in (("".join(lines), "jsonl"), (text, "csv")):
        battles = parse_battles(data, fmt)
        assert len(battles) == 9
        assert (
            ratings.leaderboard(battles, method="elo") == leaderboards.leaderboard(arena, STUDY, "elo").rows
        )


def test_studies_create_list_detail(arena):
    created = studies.create_study(arena, "fresh", title="Fresh study", description="d")
    assert (created.name, created.title, created.models, created.votes) == ("fresh", "Fresh study", 0, 0)
    with pytest.raises(ConflictError):
        studies.create_study(arena, "fresh")
    with pytest.raises(InputError):
        studies.create_study(arena, "bad name!")
    names = [s.name for s in studies.list_studies(arena)]
    assert names == ["fresh", STUDY]
    detail = studies.study_detail(arena, STUDY)
    assert detail.models == [("alpha", 4), ("beta", 4), ("gamma", 4)]
    assert len(detail.prompts) == 4
    with pytest.raises(UnknownNameError):
        studies.study_detail(arena, "missing")
    with pytest.raises(InputError, match="import"):
        serve_match(arena, "fresh")


def test_a_vote_committed_late_with_a_lower_id_is_not_missed(arena):
    """With several writers a vote can commit after a higher id was already read into the cached log."""
    from sqlalchemy import delete, insert, select

    from imagearena.storage.models import Vote

    cast(arena, 4)
    with arena.session() as s:
        first = s.execute(select(Vote.__table__).order_by(Vote.id).limit(1)).mappings().one()
        s.execute(delete(Vote).where(Vote.id == first["id"]))  # as if it had not committed yet
        s.commit()
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 3
    with arena.session() as s:
        s.execute(insert(Vote.__table__).values(**first))  # now it commits, below the cached top id
        s.commit()
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 4


def test_slow_boards_may_be_briefly_stale(arena):
    """A board that is expensive to compute is not recomputed on every view while votes stream in."""
    cast(arena, 3)
    # every board counts as slow, and may be served stale for as long as the test runs
    arena.boards = LeaderboardCache(slow_board_s=0.0, stale_factor=1e9)
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 3
    cast(arena, 1)
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 3  # within its staleness allowance
    arena.boards.max_stale_s = 0.0
    assert leaderboards.leaderboard(arena, STUDY, "elo").votes == 4
