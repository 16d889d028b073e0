"""Serving matches and recording votes on a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from seeding import MODELS, PROMPTS, STUDY
from sqlalchemy import func, select

from imagearena.arena.matches import serve_match
from imagearena.arena.runtime import Arena
from imagearena.arena.tokens import TokenSigner
from imagearena.arena.votes import record_vote
from imagearena.errors import ConflictError, ForbiddenError, InputError, UnknownNameError
from imagearena.storage.models import Image, Match, Model, Vote


def count(arena, table) -> int:
    with arena.read_session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_serving_writes_nothing_and_hides_the_models(arena):
    m = serve_match(arena, STUDY)
    assert m.prompt in PROMPTS and m.left_sha256 != m.right_sha256
    assert not any(name in m.token for name in MODELS)
    assert count(arena, Match) == 0


def test_vote_stores_match_and_vote_bound_to_the_images_shown(arena):
    m = serve_match(arena, STUDY)
    v = record_vote(arena, m.token, "model_b", voter="v1")
    assert v.study == STUDY and v.winner == "model_b" and v.model_a != v.model_b
    with arena.read_session() as s:
        vote = s.get(Vote, v.vote_id)
        match = s.get(Match, vote.match_id)
        left, right = s.get(Image, match.left_image_id), s.get(Image, match.right_image_id)
        assert (left.sha256, right.sha256) == (m.left_sha256, m.right_sha256)
        # model_a is the model of the left image: bound at import, never by display order
        assert s.get(Model, vote.model_a_id).name == v.model_a == left.model.name
        assert s.get(Model, vote.model_b_id).name == v.model_b == right.model.name
        assert left.prompt.text == right.prompt.text == m.prompt
        assert (vote.winner, vote.voter, vote.judge, vote.epoch) == ("model_b", "v1", "human", 0)


def test_a_replayed_token_conflicts_and_is_not_counted_twice(arena):
    m = serve_match(arena, STUDY)
    record_vote(arena, m.token, "model_a")
    with pytest.raises(ConflictError, match="already voted"):
        record_vote(arena, m.token, "model_b")
    assert count(arena, Vote) == 1 and count(arena, Match) == 1


def test_forged_and_malformed_tokens_are_refused(arena):
    forged, _ = TokenSigner(b"f" * 32).issue(
        study_id=1, epoch=0, prompt_id=1, left_image_id=1, right_image_id=2, model_a_id=1, model_b_id=2
    )
    with pytest.raises(ForbiddenError):
        record_vote(arena, forged, "model_a")
    with pytest.raises(InputError):
        record_vote(arena, "garbage", "model_a")
    with pytest.raises(InputError, match="unknown winner"):
        record_vote(arena, serve_match(arena, STUDY).token, "left")
    assert count(arena, Vote) == 0


def test_unknown_study(arena):
    with pytest.raises(UnknownNameError, match="t2i"):
        serve_match(arena, "nope")


def test_concurrent_voters_each_counted_once(arena):
    tokens = [serve_match(arena, STUDY).token for _ in range(120)]
    winners = ["model_a", "model_b", "tie", "both_bad"]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: record_vote(arena, tokens[i], winners[i % 4]), range(len(tokens))))
    assert len({r.vote_id for r in results}) == 120
    assert count(arena, Vote) == 120 and count(arena, Match) == 120


def test_the_same_token_raced_from_many_threads_counts_once(arena):
    for _ in range(5):
        token = serve_match(arena, STUDY).token
        barrier = threading.Barrier(12)
        outcomes: list[str] = []

        def go(token=token, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                record_vote(arena, token, "tie")
                outcomes.append("ok")
            except ConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=go) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict"] * 11 + ["ok"]
    assert count(arena, Vote) == 5


def test_two_server_processes_on_one_database_accept_a_token_once(arena, seeded):
    """Replay protection lives in the database (unique nonce), not in one process's memory."""
    other = Arena(seeded)
    try:
        m = serve_match(arena, STUDY)
        tokens = [serve_match(arena, STUDY).token for _ in range(40)]
        record_vote(other, m.token, "model_a")
        with pytest.raises(ConflictError):
            record_vote(arena, m.token, "model_a")

        def vote_both(token):
            ok = 0
            for a in (arena, other):
                try:
                    record_vote(a, token, "tie")
                    ok += 1
                except ConflictError:
                    pass
            return ok

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(vote_both, tokens)) == 40
    finally:
        other.close()
    assert count(arena, Vote) == 41


def test_votes_teach_the_pair_sampler(arena):
    m = serve_match(arena, STUDY)
    pool = arena.pools.get(STUDY)
    before = dict(pool.sampler.votes)
    v = record_vote(arena, m.token, "model_a")
    after = pool.sampler.votes
    assert after[v.model_a] == before[v.model_a] + 1 and after[v.model_b] == before[v.model_b] + 1


def test_a_restarted_server_replays_the_votes_into_its_sampler(arena, seeded):
    for w in ("model_a", "model_b", "tie"):
        record_vote(arena, serve_match(arena, STUDY).token, w)
    fresh = Arena(seeded)
    try:
        assert sum(fresh.pools.get(STUDY).sampler.votes.values()) == 6
    finally:
        fresh.close()


def test_a_token_from_another_database_sharing_the_secret_is_forbidden(seeded, tmp_path):
    """One data dir (one secret) used with two databases: each refuses the other's tokens, even where
    the ids in the token exist in both, and stores nothing."""
    from seeding import seed_study

    from imagearena.media import MediaStore
    from imagearena.storage.engine import make_engine, make_sessionmaker, upgrade_database

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade_database(other_url)
    engine = make_engine(other_url)
    with make_sessionmaker(engine)() as session:
        seed_study(session, MediaStore(seeded.media_dir))
    engine.dispose()
    first = Arena(seeded)
    second = Arena(seeded.model_copy(update={"db_url": other_url}))
    try:
        assert first.settings.data_dir == second.settings.data_dir  # one secret_key file
        for issuer, voter in ((first, second), (second, first)):
            token = serve_match(issuer, STUDY).token
            before = count(voter, Vote), count(voter, Match)
            with pytest.raises(ForbiddenError, match="for this database"):
                record_vote(voter, token, "model_a")
            assert (count(voter, Vote), count(voter, Match)) == before
            assert record_vote(issuer, token, "model_a").vote_id
    finally:
        first.close()
        second.close()
