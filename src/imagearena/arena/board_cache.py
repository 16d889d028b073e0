"""The leaderboard cache one server process keeps, behind one lock.

Per study round (study id, epoch) it holds the round's vote log, the battles of recently asked
time windows, and computed boards. Decisions (pair votes and four-image round results) are
append-only, so the log grows by the decisions committed since the last view (O(new votes) per
update, in numpy columns whose capacity doubles), and the ratings read it through array views, never a
copy. An undo is appended too, but withdraws a decision from the middle of the log: the log is then
read again in full. Entries are evicted a whole round at a time (least
recently used), so an incremental log is never cut short; a round keeps a bounded number of windows.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from imagearena.arena.leaderboards import Leaderboard
    from imagearena.ratings import Battles

#: (vote rows, highest vote id, round result rows, highest round id, undo rows) of a round or of what a
#: cached log holds (storage.votes.DecisionState); every part only grows.
VoteState = tuple[int, int, int, int, int]
NO_VOTES: VoteState = (0, 0, 0, 0, 0)
#: (study id, epoch).
RoundKey = tuple[int, int]
#: (since, until); (None, None) is the whole round.
Window = tuple[datetime | None, datetime | None]
WHOLE_ROUND: Window = (None, None)


def progress(state: VoteState) -> int:
    """How much a state has seen: more decisions or undos, never fewer."""
    return state[0] + state[2] + state[4]


@dataclass(frozen=True, slots=True)
class VoteColumns:
    """Battles in battle-log columns, oldest first, with their four-image round ids (``group``, -1 for
    a pair vote; None when all are pair votes), and the state the log reaches with them."""

    model_a: Sequence[str]
    model_b: Sequence[str]
    winner: Sequence[str]
    tstamp: Sequence[float]
    state: VoteState
    group: Sequence[int] | None = None

    def __len__(self) -> int:
        return len(self.model_a)


class VoteLog:
    """A round's battles as growable numpy columns.

    Models stay sorted as ``Battles.from_records`` sorts them, so a board from the log equals a board
    computed afresh. Storage already handed out through :meth:`battles` is never written again: appends
    go past the end of every earlier view, and growing or renumbering models allocates new arrays.
    """

    def __init__(self, capacity: int = 1024) -> None:
        import numpy as np

        self.models: list[str] = []
        self._index: dict[str, int] = {}
        self._a = np.empty(capacity, dtype=np.int32)
        self._b = np.empty(capacity, dtype=np.int32)
        self._outcome = np.empty(capacity, dtype=np.int8)
        self._tstamp = np.empty(capacity, dtype=np.float64)
        self._group = np.empty(capacity, dtype=np.int64)
        self.size = 0
        self.state: VoteState = NO_VOTES
        self.grouped = False  # a four-image round's battles are among them
        self.loaded = False  # read from the database at least once

    @property
    def capacity(self) -> int:
        return len(self._a)

    def append(self, votes: VoteColumns) -> None:
        """Add the battles of decisions read after ``self.state``; costs O(len(votes)) except when a
        model is new. Battles the ratings refuse raise before anything changes."""
        from imagearena.ratings import Battles

        if len(votes):
            self._add(
                Battles.from_records(
                    votes.model_a, votes.model_b, votes.winner, votes.tstamp, group=votes.group
                )
            )
        self.state = votes.state
        self.loaded = True

    def _add(self, batch: Battles) -> None:
        new = sorted(set(batch.models).difference(self._index))
        if new:
            self._add_models(new)
        self._reserve(self.size + len(batch))
        lookup = self._lookup(batch.models)
        end = self.size + len(batch)
        self._a[self.size : end] = lookup[batch.a]
        self._b[self.size : end] = lookup[batch.b]
        self._outcome[self.size : end] = batch.outcome
        assert batch.tstamp is not None
        self._tstamp[self.size : end] = batch.tstamp
        self._group[self.size : end] = batch.groups()
        self.grouped = self.grouped or batch.has_groups
        self.size = end

    def battles(self) -> Battles:
        """The log as Battles over read-only views of its columns (no copy); the group column only
        when a four-image round is among them."""
        from imagearena.ratings import Battles

        n = self.size
        return Battles(
            self.models,
            _frozen(self._a[:n]),
            _frozen(self._b[:n]),
            _frozen(self._outcome[:n]),
            _frozen(self._tstamp[:n]) if n else None,
            _frozen(self._group[:n]) if self.grouped else None,
        )

    def _lookup(self, names: Sequence[str]) -> np.ndarray:
        import numpy as np

        return np.fromiter((self._index[m] for m in names), dtype=np.int32, count=len(names))

    def _add_models(self, new: Sequence[str]) -> None:
        """Renumber into the merged sorted model list, in new arrays: earlier views keep their numbering."""
        models = sorted([*self.models, *new])
        index = {m: i for i, m in enumerate(models)}
        renumber = self._lookup_in(index)
        n = self.size
        self._a, self._b = self._a.copy(), self._b.copy()
        self._a[:n] = renumber[self._a[:n]]
        self._b[:n] = renumber[self._b[:n]]
        self.models, self._index = models, index

    def _lookup_in(self, index: dict[str, int]) -> np.ndarray:
        import numpy as np

        return np.fromiter((index[m] for m in self.models), dtype=np.int32, count=len(self.models))

    def _reserve(self, needed: int) -> None:
        """Double the capacity until ``needed`` rows fit; earlier views keep the old arrays."""
        if needed <= self.capacity:
            return
        import numpy as np

        capacity = max(needed, 2 * self.capacity)
        n = self.size
        for name in ("_a", "_b", "_outcome", "_tstamp", "_group"):
            old = getattr(self, name)
            grown = np.empty(capacity, dtype=old.dtype)
            grown[:n] = old[:n]
            setattr(self, name, grown)


def _frozen(view: np.ndarray) -> np.ndarray:
    view.flags.writeable = False
    return view


@dataclass(frozen=True, slots=True)
class LogMark:
    """Where a log stood when a view started reading the votes after it."""

    log: VoteLog
    state: VoteState


@dataclass(slots=True)
class _Board:
    state: VoteState
    computed_at: float  # time.monotonic()
    took_s: float
    board: Leaderboard


@dataclass(slots=True)
class _Round:
    log: VoteLog = field(default_factory=VoteLog)
    windows: OrderedDict[Window, tuple[VoteState, Battles]] = field(default_factory=OrderedDict)
    boards: dict[tuple[Window, str], _Board] = field(default_factory=dict)


class LeaderboardCache:
    """Vote logs, window battles and boards of the most recently viewed study rounds.

    ``slow_board_s``, ``stale_factor`` and ``max_stale_s``: a board that took at least ``slow_board_s``
    to compute may be served up to ``stale_factor`` times its computing time old (at most ``max_stale_s``)
    while votes stream in, so with a hundred thousand votes and the page open in many browsers the
    server spends a bounded share of its CPU on ratings, never the voters' share. Faster boards are
    always fresh. ``max_rounds`` rounds are kept, each with up to ``max_windows`` windows.
    """

    def __init__(
        self,
        *,
        max_rounds: int = 64,
        max_windows: int = 32,
        slow_board_s: float = 0.1,
        stale_factor: float = 20.0,
        max_stale_s: float = 30.0,
    ) -> None:
        self.max_rounds = max_rounds
        self.max_windows = max_windows
        self.slow_board_s = slow_board_s
        self.stale_factor = stale_factor
        self.max_stale_s = max_stale_s
        self._lock = threading.Lock()
        self._rounds: OrderedDict[RoundKey, _Round] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rounds)

    def rounds(self) -> list[RoundKey]:
        """Cached rounds, least recently used first."""
        with self._lock:
            return list(self._rounds)

    # --- the whole round's log -------------------------------------------------------------------

    def log_mark(self, key: RoundKey) -> LogMark:
        """The round's log and its state, to read the votes after ``mark.state[1]`` outside the lock."""
        with self._lock:
            log = self._round(key).log
            return LogMark(log, log.state)

    def extend_log(
        self, key: RoundKey, mark: LogMark, votes: VoteColumns
    ) -> tuple[VoteState, Battles] | None:
        """Append the votes read after ``mark``; None when the log moved on meanwhile in a way that
        leaves them unusable (the caller reads again)."""
        with self._lock:
            log = self._round(key).log
            if log is mark.log and log.state == mark.state:
                log.append(votes)
            elif not log.loaded:  # evicted and created again while the votes were read
                return None
            return log.state, log.battles()  # else another view extended it meanwhile, just as fresh

    def replace_log(self, key: RoundKey, mark: LogMark, log: VoteLog) -> tuple[VoteState, Battles]:
        """Install a log read in full (when the count showed a vote committed below the cached top)."""
        with self._lock:
            round_ = self._round(key)
            if round_.log is mark.log or progress(log.state) >= progress(round_.log.state):  # never go back
                round_.log = log
            return round_.log.state, round_.log.battles()

    # --- windows and boards ----------------------------------------------------------------------

    def window(self, key: RoundKey, window: Window, state: VoteState) -> Battles | None:
        """The window's battles if they were read at this vote state."""
        with self._lock:
            entry = self._round(key)
            hit = entry.windows.get(window)
            if hit is None or hit[0] != state:
                return None
            entry.windows.move_to_end(window)
            return hit[1]

    def remember_window(self, key: RoundKey, window: Window, state: VoteState, battles: Battles) -> None:
        with self._lock:
            entry = self._round(key)
            entry.windows[window] = (state, battles)
            entry.windows.move_to_end(window)
            while len(entry.windows) > self.max_windows:
                dropped, _ = entry.windows.popitem(last=False)
                entry.boards = {k: v for k, v in entry.boards.items() if k[0] != dropped}

    def board(self, key: RoundKey, window: Window, method: str, state: VoteState) -> Leaderboard | None:
        """The cached board if it is of this vote state, or recent enough for a slow board."""
        now = time.monotonic()
        with self._lock:
            hit = self._round(key).boards.get((window, method))
        if hit is None:
            return None
        fresh = hit.state == state or now - hit.computed_at < self._stale_allowance(hit.took_s)
        return hit.board if fresh else None

    def _stale_allowance(self, took_s: float) -> float:
        """How old a board that took ``took_s`` to compute may be served while votes arrive."""
        if took_s < self.slow_board_s:
            return 0.0
        return min(self.max_stale_s, self.stale_factor * took_s)

    def remember_board(
        self,
        key: RoundKey,
        window: Window,
        method: str,
        state: VoteState,
        board: Leaderboard,
        started_at: float,
    ) -> None:
        """Keep a board computed from ``state`` that started computing at ``started_at`` (monotonic)."""
        entry = _Board(state, started_at, time.monotonic() - started_at, board)
        with self._lock:
            round_ = self._round(key)
            older = round_.boards.get((window, method))
            if older is not None and progress(older.state) > progress(state):
                return  # a view that read more votes finished first
            if window == WHOLE_ROUND or window in round_.windows:
                round_.boards[(window, method)] = entry

    def _round(self, key: RoundKey) -> _Round:
        """The round's entry, created if needed and marked most recently used; the caller holds the lock.

        A new round of a study replaces its older rounds (a reset made them archives)."""
        entry = self._rounds.get(key)
        if entry is None:
            for other in [k for k in self._rounds if k[0] == key[0]]:
                del self._rounds[other]
            entry = self._rounds[key] = _Round()
            while len(self._rounds) > self.max_rounds:
                self._rounds.popitem(last=False)
        self._rounds.move_to_end(key)
        return entry
