"""Leaderboards, win rates and rating history of a study, derived from its votes by imagearena.ratings.

Results are cached per (study, epoch, method, window) and recomputed only when the vote count or the
newest vote id changes, so a busy leaderboard page costs one small query per view, not a refit.
Rating snapshots (the history behind rating-over-time charts) are appended when votes arrived since
the last snapshot and it is older than a minimum interval.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from imagearena.arena.runtime import Arena
from imagearena.errors import InputError
from imagearena.types import RatingRow

METHODS = ("elo", "trueskill", "bt")
SLOW_BOARD_S = 0.1  # boards that compute faster than this are always fresh
STALE_FACTOR = 20.0
MAX_STALE_S = 30.0
METHOD_TITLES = {"elo": "Elo", "trueskill": "TrueSkill", "bt": "Bradley-Terry"}


@dataclass(frozen=True)
class Leaderboard:
    study: str
    method: str
    epoch: int
    votes: int
    rows: list[RatingRow]
    since: datetime | None = None
    until: datetime | None = None
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row_dicts(self) -> list[dict[str, Any]]:
        """Rows as `imagearena rate --format json` prints them, plus the win rate (ties count half, as in
        the win-rate matrix)."""
        return [dict(asdict(r), win_rate=win_rate(r)) for r in self.rows]


@dataclass(frozen=True)
class WinRates:
    models: list[str]
    win_rate: list[list[float | None]]  # row model's share of wins against column model
    battles: list[list[int]]


def win_rate(row: RatingRow) -> float | None:
    return (row.wins + 0.5 * row.ties) / row.votes if row.votes else None


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"unknown rating method {method!r}: use one of {', '.join(METHODS)}")
    return method


def parse_time(value: str | None, what: str) -> datetime | None:
    """Accept an ISO 8601 date or datetime (UTC unless it says otherwise) or Unix seconds."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{what}={value!r} is not a time: use ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z) or Unix seconds"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _battles(arena: Arena, study_id: int, epoch: int, since, until):
    """(cache key state, imagearena.ratings.Battles) of the epoch's votes in [since, until).

    The whole epoch's log is kept in memory and extended by the votes added since (votes are
    append-only), so a busy study costs one small query per view; windows are read in full.
    """
    from imagearena.ratings import Battles

    if since is not None or until is not None:
        return _window(arena, study_id, epoch, since, until)
    from imagearena.storage.votes import battle_columns_after, vote_state

    key = ("log", study_id, epoch)
    with arena.leaderboard_lock:
        log = arena.leaderboard_cache.get(key)
        if log is None:
            log = {"a": [], "b": [], "w": [], "t": [], "top": 0, "battles": None}
        with arena.read_session() as session:
            a, b, w, t, top = battle_columns_after(session, study_id, epoch, log["top"])
            # Concurrent writers (PostgreSQL) can commit a lower id after a higher one was read:
            # the count then disagrees with the log, and the log is read again in full.
            if vote_state(session, study_id, epoch)[0] != len(log["a"]) + len(a):
                log = {"a": [], "b": [], "w": [], "t": [], "top": 0, "battles": None}
                a, b, w, t, top = battle_columns_after(session, study_id, epoch, 0)
        if a or log["battles"] is None:
            log = {"a": log["a"] + a, "b": log["b"] + b, "w": log["w"] + w, "t": log["t"] + t, "top": top}
            log["battles"] = Battles.from_records(
                log["a"], log["b"], log["w"], log["t"] if log["t"] else None
            )
            _remember(arena, key, log)
        return (len(log["a"]), log["top"]), log["battles"]


def _window(arena: Arena, study_id: int, epoch: int, since, until):
    from imagearena.ratings import Battles
    from imagearena.storage.votes import iter_votes, vote_state

    with arena.read_session() as session:
        state = vote_state(session, study_id, epoch)
        key = ("window", study_id, epoch, since, until)
        hit = arena.leaderboard_cache.get(key)
        if hit is not None and hit[0] == state:
            return state, hit[1]
        votes = list(iter_votes(session, study_id, epoch, since, until))
    battles = Battles.from_records(
        [v.model_a for v in votes],
        [v.model_b for v in votes],
        [v.winner for v in votes],
        [v.tstamp.timestamp() for v in votes] if votes else None,
    )
    _remember(arena, key, (state, battles))
    return state, battles


def _remember(arena: Arena, key: tuple, value) -> None:
    cache = arena.leaderboard_cache
    if len(cache) > 512:  # arbitrary ?since/?until windows must not grow it without bound
        cache.clear()
    cache[key] = value


def _study(arena: Arena, study: str):
    from imagearena.storage.matches import study_row

    with arena.read_session() as session:
        return study_row(session, study)


def leaderboard(
    arena: Arena,
    study: str,
    method: str = "elo",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Leaderboard:
    """The current epoch's leaderboard by ``method``, optionally over votes in [since, until)."""
    check_method(method)
    row = _study(arena, study)
    return _leaderboard(arena, row, method, since, until)


def _leaderboard(arena: Arena, row, method: str, since, until) -> Leaderboard:
    """Recomputed when votes arrived, except that a board which took long to compute (``SLOW_BOARD_S``)
    may be up to ``STALE_FACTOR`` times its computing time old (at most ``MAX_STALE_S``): with a hundred thousand
    votes and a leaderboard page open in many browsers, the server spends a bounded share of its CPU
    on ratings, never the voters' share."""
    from imagearena import ratings

    state, battles = _battles(arena, row.id, row.epoch, since, until)
    key = ("board", row.id, row.epoch, method, since, until)
    hit = arena.leaderboard_cache.get(key)
    now = time.monotonic()
    if hit is not None:
        hit_state, computed_at, took, board = hit
        stale_ok = min(MAX_STALE_S, STALE_FACTOR * took) if took >= SLOW_BOARD_S else 0.0
        if hit_state == state or now - computed_at < stale_ok:
            return board
    rows = (
        ratings.leaderboard(battles, method=cast(Any, method), k=arena.settings.elo_k) if len(battles) else []
    )
    board = Leaderboard(row.name, method, row.epoch, len(battles), list(rows), since, until)
    _remember(arena, key, (state, now, time.monotonic() - now, board))
    return board


def win_rates(
    arena: Arena, study: str, since: datetime | None = None, until: datetime | None = None
) -> WinRates:
    from imagearena import ratings

    row = _study(arena, study)
    _, battles = _battles(arena, row.id, row.epoch, since, until)
    if not len(battles):
        return WinRates([], [], [])
    models, rates = ratings.win_rate_matrix(battles)
    _, counts = ratings.battle_count_matrix(battles)
    rate_rows = [
        [None if c == 0 or i == j else float(r) for j, (r, c) in enumerate(zip(rr, cc, strict=True))]
        for i, (rr, cc) in enumerate(zip(rates.tolist(), counts.tolist(), strict=True))
    ]
    return WinRates(list(models), rate_rows, [[int(c) for c in cc] for cc in counts.tolist()])


def snapshot_if_due(arena: Arena, study: str, min_interval_s: float = 60.0, methods=METHODS) -> list[str]:
    """Append rating snapshots for the methods whose newest snapshot predates the newest vote and is at
    least ``min_interval_s`` old; returns the methods snapshotted.

    The first snapshot of a round is preceded by snapshots replayed from the votes so far (up to
    ``BACKFILL_POINTS``, for rounds of at most ``BACKFILL_MAX_VOTES``), so the rating-over-time chart
    shows how the ratings got where they are from the first time anyone looks.
    """
    from imagearena.storage.votes import latest_snapshot_at, latest_vote_at

    row = _study(arena, study)
    done: list[str] = []
    now = datetime.now(UTC)
    with arena.read_session() as session:
        last_vote = latest_vote_at(session, row.id, row.epoch)
        if last_vote is None:
            return done
        due: list[tuple[str, bool]] = []
        for method in methods:
            at = latest_snapshot_at(session, row.id, row.epoch, method)
            if at is None or (at < last_vote and now - at >= timedelta(seconds=min_interval_s)):
                due.append((method, at is None))
    for method, first in due:
        board = _leaderboard(arena, row, method, None, None)
        history = _replayed(arena, row, method) if first else []
        _write(arena, row, method, [*history, (now, board.rows)])
        done.append(method)
    return done


BACKFILL_POINTS = 12
BACKFILL_MAX_VOTES = 20_000


def _replayed(arena: Arena, row, method: str) -> list[tuple[datetime, list[RatingRow]]]:
    """Leaderboards after the first 1/N, 2/N, ... of the round's votes, stamped with the last vote's time."""
    import numpy as np

    from imagearena import ratings

    _, battles = _battles(arena, row.id, row.epoch, None, None)
    n = len(battles)
    if n < 2 or n > BACKFILL_MAX_VOTES or battles.tstamp is None:
        return []
    order = battles.order()
    cuts = sorted({int(np.ceil(i * n / BACKFILL_POINTS)) for i in range(1, BACKFILL_POINTS)} - {0, n})
    out = []
    for k in cuts:
        idx = order[:k]
        prefix = ratings.Battles(
            battles.models, battles.a[idx], battles.b[idx], battles.outcome[idx], battles.tstamp[idx]
        )
        rows = [
            r
            for r in ratings.leaderboard(prefix, method=cast(Any, method), k=arena.settings.elo_k)
            if r.votes
        ]
        out.append((datetime.fromtimestamp(float(battles.tstamp[idx[-1]]), UTC), rows))
    return out


def _write(arena: Arena, row, method: str, boards: list[tuple[datetime, list[RatingRow]]]) -> None:
    from imagearena.storage.votes import model_ids, write_snapshots

    with arena.session() as session:
        ids = model_ids(session, sorted({r.model for _, rows in boards for r in rows}))
        for at, rows in boards:
            write_snapshots(
                session,
                row.id,
                row.epoch,
                method,
                [(ids[r.model], r.rating, r.lower, r.upper, r.votes) for r in rows],
                at=at,
            )


def rating_history(arena: Arena, study: str, method: str = "elo"):
    """Snapshots of the current epoch, oldest first (storage.votes.SnapshotPoint)."""
    from imagearena.storage.votes import snapshots

    check_method(method)
    row = _study(arena, study)
    with arena.read_session() as session:
        return snapshots(session, row.id, row.epoch, method)
