"""Group commit for votes: one writer thread turns whatever votes are waiting into one transaction.

Under concurrent voters this makes the database cost per vote a fraction of a transaction instead of
a whole one, while each voter still gets its answer only after its vote is committed (an
acknowledged vote is never lost). How a batch is written, and how one bad item is kept from failing
the others, is the job of the ``write`` function the writer is given (:func:`write_match_votes`).
SQLite has one writer at a time, so one thread is right there; PostgreSQL commits concurrent
transactions in parallel, so a few threads keep its commit latency (an fsync each) from capping the
vote rate.

The writer must outlive anything a batch can do: a vote whose waiter went away (its future was
cancelled before the write started) is dropped unwritten, a failing batch is answered with its error
and logged, and a thread that died anyway is replaced at the next submit.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from imagearena.errors import ConflictError, ServiceUnavailableError
from imagearena.storage import matches
from imagearena.storage.matches import MatchVote

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_STOP = object()
log = logging.getLogger("imagearena.writer")

WriteBatch = Callable[[Sequence[Any]], Sequence[Any]]
SessionFactory = Callable[[], AbstractContextManager["Session"]]
_Entry = tuple[Any, "Future[Any]"]


class VoteWriter:
    def __init__(self, write: WriteBatch, max_batch: int = 256, threads: int = 1) -> None:
        """``write(items)`` stores a batch and returns, in order, a result or an exception per item."""
        self._write = write
        self.max_batch = max_batch
        self.threads = threads
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self.batches = 0
        self.restarts = 0

    def submit(self, item: Any) -> Future[Any]:
        """Queue one item; the future gives its result or raises its error once the batch is committed.

        Cancelling the future before its batch starts drops the item unwritten; after that, the
        cancel fails and the item is written (so a waiter that gives up never leaves a vote half-known).
        """
        self._ensure_workers()
        future: Future[Any] = Future()
        self._queue.put((item, future))
        return future

    def _ensure_workers(self) -> None:
        if len(self._workers) == self.threads and all(t.is_alive() for t in self._workers):
            return
        with self._start_lock:
            alive = [t for t in self._workers if t.is_alive()]
            if self._workers and len(alive) < len(self._workers):
                self.restarts += len(self._workers) - len(alive)
                log.error(
                    "%d vote writer thread(s) had died: starting new ones", len(self._workers) - len(alive)
                )
            while len(alive) < self.threads:
                thread = threading.Thread(target=self._run, name=f"vote-writer-{len(alive)}", daemon=True)
                thread.start()
                alive.append(thread)
            self._workers = alive

    def _run(self) -> None:
        while True:
            batch, stop = self._take_batch()
            if batch:
                self._write_and_answer(batch)
            if stop:
                return

    def _take_batch(self) -> tuple[list[_Entry], bool]:
        """The waiting items (at most max_batch) whose futures were not cancelled, and whether to stop."""
        taken = [self._queue.get()]
        while taken[-1] is not _STOP and len(taken) < self.max_batch:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = taken[-1] is _STOP
        entries = taken[:-1] if stop else taken
        # From here on the futures cannot be cancelled: their waiters will hear the outcome.
        return [(item, future) for item, future in entries if future.set_running_or_notify_cancel()], stop

    def _write_and_answer(self, batch: list[_Entry]) -> None:
        try:
            results = list(self._write([item for item, _ in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"the vote write returned {len(results)} results for {len(batch)} votes")
        except BaseException as exc:  # every waiting voter hears about it; the thread goes on
            log.exception("a batch of %d votes failed", len(batch))
            for _, future in batch:
                _deliver(future, exc)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and friends end the thread; the next submit starts another
            return
        with self._start_lock:
            self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            _deliver(future, result)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the threads."""
        with self._start_lock:
            for _ in self._workers:
                self._queue.put(_STOP)
            for thread in self._workers:
                thread.join(timeout)
            self._workers = []


def _deliver(future: Future[Any], result: Any) -> None:
    """Give a waiter its answer; a future that already has one keeps it."""
    try:
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


def write_match_votes(
    writing: SessionFactory, items: Sequence[MatchVote], time_limit_s: float | None = None
) -> list[int | Exception]:
    """Write a batch of votes in one transaction and return a vote id or an exception per item, in order.

    When the batch fails because of its items (a replayed token, a value the database refuses), the
    items are written one by one, each in its own transaction, so that only the bad ones fail. When it
    fails because the database is unavailable (a lock held past ``time_limit_s``, a lost connection),
    nothing was stored and every item is answered ServiceUnavailableError: the voter may send the same
    token again.
    """
    try:
        return list(_insert(writing, items, time_limit_s))
    except Exception as exc:
        if matches.is_unavailable(exc):
            return [matches.vote_failure(exc)] * len(items)
    results: list[int | Exception] = []
    for item in items:
        if results and isinstance(results[-1], ServiceUnavailableError):
            results.append(results[-1])  # the database went away: do not wait for it once per vote
            continue
        try:
            results.append(_record_one(writing, item, time_limit_s))
        except Exception as exc:
            results.append(matches.vote_failure(exc))
    return results


def _insert(writing: SessionFactory, items: Sequence[MatchVote], time_limit_s: float | None) -> list[int]:
    """Matches and votes in one committed transaction; rolled back whole when any item fails."""
    with writing() as session, session.begin():
        matches.limit_time(session, time_limit_s)
        return matches.insert_match_votes(session, items)


def _record_one(writing: SessionFactory, item: MatchVote, time_limit_s: float | None) -> int:
    """One match and its vote in their own transaction. The unique match nonce makes a second vote on
    the same token fail as a whole: ConflictError, and nothing of it is stored."""
    with writing() as session:
        try:
            with session.begin():
                matches.limit_time(session, time_limit_s)
                return matches.insert_match_votes(session, [item])[0]
        except Exception as exc:
            if matches.is_replay(session, exc, item.nonce):
                raise ConflictError("this match was already voted on: request a new match") from None
            raise
