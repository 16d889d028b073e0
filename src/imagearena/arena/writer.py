"""Group commit for votes: one writer thread turns whatever votes are waiting into one transaction.

Under concurrent voters this makes the database cost per vote a fraction of a transaction instead of
a whole one, while each voter still gets its answer only after its vote is committed (an
acknowledged vote is never lost). A replayed token in a batch makes the writer retry that batch
vote by vote, so only the replay fails. SQLite has one writer at a time, so one thread is right
there; PostgreSQL commits concurrent transactions in parallel, so a few threads keep its commit
latency (an fsync each) from capping the vote rate.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_STOP = object()


class VoteWriter:
    def __init__(self, session_factory: Callable[[], Any], max_batch: int = 256, threads: int = 1) -> None:
        self._session_factory = session_factory
        self.max_batch = max_batch
        self.threads = threads
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self.batches = 0

    def submit(self, item: Any) -> Future:
        """Queue one storage.matches.MatchVote; the future gives its vote id or raises its error."""
        if not self._workers:
            self._start()
        future: Future = Future()
        self._queue.put((item, future))
        return future

    def _start(self) -> None:
        with self._start_lock:
            if not self._workers:
                for k in range(self.threads):
                    thread = threading.Thread(target=self._run, name=f"vote-writer-{k}", daemon=True)
                    thread.start()
                    self._workers.append(thread)

    def _run(self) -> None:
        from imagearena.storage.matches import write_match_votes

        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results = write_match_votes(self._session_factory, [item for item, _ in batch])
            except Exception as exc:  # the database is gone: every waiting voter hears about it
                results = [exc] * len(batch)
            with self._start_lock:
                self.batches += 1
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            if stop:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the threads."""
        with self._start_lock:
            for _ in self._workers:
                self._queue.put(_STOP)
            for thread in self._workers:
                thread.join(timeout)
            self._workers = []
