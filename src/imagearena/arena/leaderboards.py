"""Leaderboards, win rates and rating history of a study, derived from its votes by imagearena.ratings.

Results are cached in ``arena.boards`` (arena.board_cache.LeaderboardCache) per study round, window
and method, and recomputed only when the vote count or the newest vote id changes, so a busy
leaderboard page costs one small query per view, not a refit. Rating snapshots (the history behind
rating-over-time charts) are appended by the server's background task (``snapshot_if_due``) when votes
arrived since the last snapshot and it is older than a minimum interval; a request never writes them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from imagearena.arena.board_cache import RoundKey, VoteColumns, VoteLog, VoteState, Window
from imagearena.arena.runtime import Arena
from imagearena.errors import InputError
from imagearena.types import RatingMethod, RatingRow

if TYPE_CHECKING:
    from imagearena.ratings import Battles
    from imagearena.storage.snapshots import SnapshotPoint
    from imagearena.storage.studies import StudyRow

#: The built-in rating methods: every leaderboard page shows them and the background task snapshots them.
METHODS = tuple(m.value for m in RatingMethod)
METHOD_TITLES = {m.value: m.label for m in RatingMethod}


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


def method_names() -> list[str]:
    """Every rating method a leaderboard accepts: the built-ins, then those packages register
    (ratings.methods.rating_methods, entry point group ``imagearena.rating_methods``)."""
    from imagearena.ratings.methods import rating_methods

    return [*METHODS, *(m for m in rating_methods.names() if m not in METHODS)]


def method_title(method: str) -> str:
    """How pages title a method: a built-in by its label, one a package registers by its name."""
    return METHOD_TITLES.get(method, method)


def check_method(method: str) -> str:
    """``method`` if it is a registered rating method; an InputError naming them otherwise."""
    if method not in METHODS and method not in method_names():
        raise InputError(f"unknown rating method {method!r}: use one of {', '.join(method_names())}")
    return method


def parse_time(value: str | None, what: str) -> datetime | None:
    """Accept an ISO 8601 date or datetime (UTC unless it says otherwise) or Unix seconds.

    Times outside the years 1 to 9999 once converted to UTC (``1e20``, ``inf``, ``nan``,
    ``9999-12-31T23:59:59-23:00``) are refused with an InputError rather than clamped: a window the
    caller did not ask for would be a silent wrong answer.
    """
    if value is None or value == "":
        return None
    try:
        seconds: float | None = float(value)
    except ValueError:
        seconds = None
    try:
        return _as_utc(seconds if seconds is not None else _iso_time(value, what))
    except (OverflowError, OSError, ValueError):
        raise InputError(
            f"{what}={value!r} is outside the times this server handles: give a time between the years "
            "1 and 9999 (UTC) as ISO 8601 (2026-01-31T12:00:00Z) or as finite Unix seconds"
        ) from None


def _iso_time(value: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{what}={value!r} is not a time: use ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z) or Unix seconds"
        ) from None


def _as_utc(value: float | datetime) -> datetime:
    """Unix seconds or a datetime (naive means UTC) as an aware UTC datetime; raises OverflowError,
    OSError or ValueError outside what datetime represents."""
    if not isinstance(value, datetime):
        return datetime.fromtimestamp(value, UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def study_battles(
    arena: Arena, study_id: int, epoch: int, since: datetime | None = None, until: datetime | None = None
) -> tuple[VoteState, Battles]:
    """(vote state, Battles) of the round's votes in [since, until): the cache's key state and the
    battles the ratings read."""
    if since is None and until is None:
        return _round_battles(arena, (study_id, epoch))
    return _window_battles(arena, (study_id, epoch), (since, until))


def _round_battles(arena: Arena, key: RoundKey) -> tuple[VoteState, Battles]:
    """The whole round from the cached log, extended by the votes committed since the last view.

    The votes are read outside the cache's lock; when another view moved the log meanwhile (or it was
    evicted), the read is retried, and after a few tries the round is read in full without the cache.
    """
    for _ in range(_LOG_TRIES):
        mark = arena.boards.log_mark(key)
        votes, complete = _votes_after(arena, key, mark.state)
        if complete is not None:
            return arena.boards.replace_log(key, mark, complete)
        done = arena.boards.extend_log(key, mark, votes)
        if done is not None:
            return done
    log = _read_log(arena, key)
    return log.state, log.battles()


_LOG_TRIES = 4


def _votes_after(arena: Arena, key: RoundKey, state: VoteState) -> tuple[VoteColumns, VoteLog | None]:
    """The decisions after the cached top ids; or the whole round read again as a new log when the
    round's state shows what a tail cannot add: an undo (it withdraws a decision from the middle of the
    log), or a decision committed below a cached top (several writers on PostgreSQL commit out of id
    order), seen as a tail that does not bring the log to the state read."""
    from imagearena.arena.decisions import tail_columns
    from imagearena.storage.votes import decision_state, decisions_after

    with arena.read_session() as session:
        now = decision_state(session, key[0], key[1])
        if now[4] == state[4]:
            new_rounds = now[2] != state[2] or now[3] != state[3]
            tail = decisions_after(session, key[0], key[1], state[1], state[3], rounds=new_rounds)
            reached = (
                state[0] + tail.vote_rows,
                tail.vote_top,
                state[2] + tail.round_rows,
                tail.round_top,
                state[4],
            )
            if reached == now:
                return tail_columns(tail, reached), None
    return VoteColumns([], [], [], [], state), _read_log(arena, key)


def _read_log(arena: Arena, key: RoundKey) -> VoteLog:
    from imagearena.arena.decisions import tail_columns
    from imagearena.storage.votes import decision_state, decisions_after

    log = VoteLog()
    with arena.read_session() as session:
        undos = decision_state(session, key[0], key[1])[4]  # before the rows: an undo in between shows
        tail = decisions_after(session, key[0], key[1])
        log.append(
            tail_columns(tail, (tail.vote_rows, tail.vote_top, tail.round_rows, tail.round_top, undos))
        )
    return log


def _window_battles(arena: Arena, key: RoundKey, window: Window) -> tuple[VoteState, Battles]:
    """A window's decisions, read in full when the round's state changed since they were cached."""
    from imagearena.arena.decisions import battles_of
    from imagearena.storage.votes import decision_state, iter_rounds, iter_votes

    with arena.read_session() as session:
        state = decision_state(session, *key)
        hit = arena.boards.window(key, window, state)
        if hit is not None:
            return state, hit
        votes = list(iter_votes(session, *key, window))
        rounds = list(iter_rounds(session, *key, window))
    battles = battles_of(votes, rounds)
    arena.boards.remember_window(key, window, state, battles)
    return state, battles


def _study(arena: Arena, study: str) -> StudyRow:
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        return get_study(session, study)


def leaderboard(
    arena: Arena,
    study: str,
    method: str = RatingMethod.ELO,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Leaderboard:
    """The current epoch's leaderboard by ``method``, optionally over votes in [since, until)."""
    check_method(method)
    row = _study(arena, study)
    return _leaderboard(arena, row, method, since, until)


def _leaderboard(
    arena: Arena, row: StudyRow, method: str, since: datetime | None, until: datetime | None
) -> Leaderboard:
    """Recomputed when votes arrived, within the staleness the cache allows a slow board
    (arena.boards: LeaderboardCache)."""
    from imagearena import ratings

    key, window = (row.id, row.epoch), (since, until)
    state, battles = study_battles(arena, row.id, row.epoch, since, until)
    hit = arena.boards.board(key, window, method, state)
    if hit is not None:
        return hit
    started = time.monotonic()
    rows = (
        ratings.leaderboard(battles, method=cast(Any, method), k=arena.settings.elo_k) if len(battles) else []
    )
    board = Leaderboard(row.name, method, row.epoch, len(battles), list(rows), since, until)
    arena.boards.remember_board(key, window, method, state, board, started)
    return board


def win_rates(
    arena: Arena, study: str, since: datetime | None = None, until: datetime | None = None
) -> WinRates:
    from imagearena import ratings

    row = _study(arena, study)
    _, battles = study_battles(arena, row.id, row.epoch, since, until)
    if not len(battles):
        return WinRates([], [], [])
    models, rates = ratings.win_rate_matrix(battles)
    _, counts = ratings.battle_count_matrix(battles)
    rate_rows = [
        [None if c == 0 or i == j else float(r) for j, (r, c) in enumerate(zip(rr, cc, strict=True))]
        for i, (rr, cc) in enumerate(zip(rates.tolist(), counts.tolist(), strict=True))
    ]
    return WinRates(list(models), rate_rows, [[int(c) for c in cc] for cc in counts.tolist()])


BACKFILL_POINTS = 12
BACKFILL_MAX_VOTES = 20_000


def snapshot_if_due(
    arena: Arena,
    study: str,
    min_interval_s: float = 60.0,
    methods: Sequence[str] = METHODS,
    *,
    backfill_max_votes: int = BACKFILL_MAX_VOTES,
) -> list[str]:
    """Append rating snapshots for the methods whose newest snapshot predates the newest vote and is at
    least ``min_interval_s`` old; returns the methods snapshotted.

    The first snapshot of a round is preceded by snapshots replayed from the votes so far (up to
    ``BACKFILL_POINTS``, for rounds of at most ``backfill_max_votes``), so the rating-over-time chart
    shows how the ratings got where they are from the first time anyone looks.
    """
    from imagearena.storage.snapshots import latest_snapshot_at
    from imagearena.storage.votes import latest_vote_at

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
        history = _replayed(arena, row, method, backfill_max_votes) if first else []
        _write(arena, row, method, [*history, (now, board.rows)])
        done.append(method)
    return done


def _replayed(
    arena: Arena, row: StudyRow, method: str, max_votes: int
) -> list[tuple[datetime, list[RatingRow]]]:
    """Leaderboards after the first 1/N, 2/N, ... of the round's votes, stamped with the last vote's time.

    A cut falls after a whole decision: one inside a four-image round's battles moves to the round's
    end, so every point is a fit of whole rounds, each one multi-way update (the ``group`` column
    kept by ``take``), as a fresh fit of the same decisions gives."""
    import numpy as np

    from imagearena import ratings
    from imagearena.ratings.battles import NO_GROUP

    _, battles = study_battles(arena, row.id, row.epoch)
    n = len(battles)
    if n < 2 or n > max_votes or battles.tstamp is None:
        return []
    order = battles.order()
    group = battles.groups()[order]
    ends = np.flatnonzero((group[:-1] == NO_GROUP) | (group[:-1] != group[1:])) + 1
    quantiles = [int(np.ceil(i * n / BACKFILL_POINTS)) for i in range(1, BACKFILL_POINTS)]
    cuts = sorted({int(ends[i]) for i in np.searchsorted(ends, quantiles) if i < len(ends)} - {0, n})
    out = []
    for k in cuts:
        idx = order[:k]
        prefix = battles.take(idx)
        rows = [
            r
            for r in ratings.leaderboard(prefix, method=cast(Any, method), k=arena.settings.elo_k)
            if r.votes
        ]
        out.append((datetime.fromtimestamp(float(battles.tstamp[idx[-1]]), UTC), rows))
    return out


def _write(arena: Arena, row: StudyRow, method: str, boards: list[tuple[datetime, list[RatingRow]]]) -> None:
    from imagearena.storage.catalog import model_ids
    from imagearena.storage.snapshots import write_snapshots

    with arena.session() as session, session.begin():
        ids = model_ids(session, sorted({r.model for _, rows in boards for r in rows}), row.id)
        for at, rows in boards:
            write_snapshots(
                session,
                row.id,
                row.epoch,
                method,
                [(ids[r.model], r.rating, r.lower, r.upper, r.votes) for r in rows],
                at=at,
            )


def rating_history(arena: Arena, study: str, method: str = RatingMethod.ELO) -> list[SnapshotPoint]:
    """Snapshots of the current epoch, oldest first (storage.snapshots.SnapshotPoint)."""
    from imagearena.storage.snapshots import snapshots

    check_method(method)
    row = _study(arena, study)
    with arena.read_session() as session:
        return snapshots(session, row.id, row.epoch, method)


def current_points(board: Leaderboard) -> list[SnapshotPoint]:
    """The board's ratings as chart points at the time it was computed, so that a rating chart can end
    at the current ratings rather than at the last stored snapshot."""
    from imagearena.storage.snapshots import SnapshotPoint

    return [
        SnapshotPoint(r.model, r.rating, r.lower, r.upper, r.votes, board.computed_at) for r in board.rows
    ]
