"""The group-commit vote writer outlives anything a batch can do: a waiter that gave up, a failing
write, even a thread that died; and a vote whose waiter gave up before its write is not written."""

from __future__ import annotations

import time
from concurrent.futures import Future

import pytest
from seeding import STUDY
from sqlalchemy import select

from imagearena.arena.matches import serve_match
from imagearena.arena.votes import _prepare
from imagearena.arena.writer import VoteWriter
from imagearena.storage.models import Match

GUARD_S = 30  # only so that a lost answer fails the test instead of hanging it


def _vote(arena):
    return _prepare(arena, serve_match(arena, STUDY).token, "tie", "", "human")[1]


def test_a_cancelled_vote_is_dropped_and_the_writer_keeps_answering(arena):
    """A waiter that gives up cancels its future; the writer must neither write that vote nor die."""
    if arena.write_lock is None:
        pytest.skip("holds the SQLite write lock to keep votes queued")
    first, dropped, kept, later = (_vote(arena) for _ in range(4))
    with arena.write_lock:  # the writer takes `first` and waits; the next two queue behind it
        f_first = arena.vote_writer.submit(first)
        _wait_until(arena.vote_writer._queue.empty)
        f_dropped = arena.vote_writer.submit(dropped)
        f_kept = arena.vote_writer.submit(kept)
        assert f_dropped.cancel()
    assert isinstance(f_first.result(GUARD_S), int)
    assert isinstance(f_kept.result(GUARD_S), int)
    assert isinstance(arena.vote_writer.submit(later).result(GUARD_S), int)
    with arena.read_session() as s:
        stored = set(s.scalars(select(Match.nonce)))
    assert stored == {first.nonce, kept.nonce, later.nonce}


def _wait_until(condition) -> None:
    deadline = time.monotonic() + GUARD_S
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_failing_write_is_answered_and_the_next_batch_is_written():
    calls: list[list[int]] = []

    def write(items):
        calls.append(list(items))
        if 0 in items:
            raise RuntimeError("the database went away")
        return [i * 10 for i in items]

    writer = VoteWriter(write)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            writer.submit(0).result(GUARD_S)
        assert writer.submit(4).result(GUARD_S) == 40
    finally:
        writer.close()


def test_a_write_with_too_few_results_fails_its_batch_instead_of_leaving_voters_waiting():
    writer = VoteWriter(lambda items: [])
    try:
        with pytest.raises(RuntimeError, match="0 results for 1"):
            writer.submit("x").result(GUARD_S)
    finally:
        writer.close()


class _Fatal(BaseException):
    pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_writer_thread_is_replaced_at_the_next_submit():
    def write(items):
        if "fatal" in items:
            raise _Fatal()
        return ["ok" for _ in items]

    writer = VoteWriter(write)
    try:
        doomed: Future = writer.submit("fatal")
        with pytest.raises(_Fatal):
            doomed.result(GUARD_S)  # its waiter hears about it before the thread ends
        for thread in writer._workers:
            thread.join(GUARD_S)
        assert writer.submit("vote").result(GUARD_S) == "ok"
        assert writer.restarts == 1
    finally:
        writer.close()
