"""Live rounds in the arena: generated on demand by real backends (the procedural generator and the
openai backend against a local stub server), stored like imported images, voted on like any match; a
failing or slow backend leaves no match row, no image row and no file in the media store."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from live_helpers import KEY, STYLES, counts, live_stub, media_files, png
from sqlalchemy import select
from stub_server import Reply

from imagearena.arena import live
from imagearena.arena.votes import record_vote
from imagearena.errors import ConflictError, InputError

stub = pytest.fixture(live_stub, name="stub")


@pytest.fixture
def live_arena(make_arena, stub):
    return make_arena(prompt_deny_terms="forbidden thing, gore")


def finish(job: live.LiveJob, timeout_s: float = 20) -> live.LiveJob:
    deadline = time.monotonic() + timeout_s
    while not job.done and time.monotonic() < deadline:
        job.wait(job.version, 0.5)
    assert job.done, job
    return job


def make_live(arena, study: str = "s-live", round_type: str = "pair", generators=None, **kw):
    from imagearena.arena.studies import create_study

    create_study(arena, study, round_type=round_type)
    names = generators or [f"proc-{s}" for s in STYLES]
    return live.save_live_settings(arena, study, generators=names, **kw)


def test_a_live_pair_is_generated_stored_and_voted_like_any_match(live_arena):
    arena = live_arena
    make_live(arena)
    before = counts(arena)
    job = finish(arena.live.start("s-live", "a red circle at sunset", voter="v1"))
    assert job.state == live.READY, job.error
    assert job.images == [live.DONE, live.DONE]
    assert len(set(job.generators)) == 2 and set(job.generators) <= {f"proc-{s}" for s in STYLES}
    after = counts(arena)
    assert after["images"] == before["images"] + 2 and after["matches"] == before["matches"]
    match = job.match
    assert match is not None and match.prompt == "a red circle at sunset" and len(match.images) == 2
    assert all(im.sha256 in arena.media_store for im in match.images)
    vote = record_vote(arena, match.token, "model_a", voter="v1")
    assert vote.models == job.generators  # the images are bound to the generators that made them
    assert counts(arena)["matches"] == before["matches"] + 1


def test_a_four_image_live_round(live_arena):
    arena = live_arena
    make_live(arena, "s-four", "best4")
    job = finish(arena.live.start("s-four", "a blue square in the ocean"))
    assert job.state == live.READY, job.error
    assert len(job.match.images) == 4 and len(set(job.generators)) == 4
    vote = record_vote(arena, job.match.token, ranks=[2, 1, 2, 2])
    assert vote.ranks == (2, 1, 2, 2) and vote.models == job.generators


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"error": {"message": f"upstream broke, key {KEY}", "type": "server_error"}}),
        Reply(200, {"data": [{"b64_json": base64.b64encode(b"not an image").decode()}]}),
        Reply(200, {"data": [{"b64_json": base64.b64encode(png()).decode()}]}, delay=3),
    ],
    ids=["error", "bad-image", "timeout"],
)
def test_a_failing_backend_leaves_no_match_no_image_no_file(live_arena, stub, reply, caplog):
    arena = live_arena
    stub.add("POST", "/v1/images/generations", reply)
    make_live(arena, generators=["proc-crisp", "remote"])
    before, files = counts(arena), media_files(arena)
    job = finish(arena.live.start("s-live", "a green tree", voter="v2"))
    assert job.state == live.FAILED and job.match is None
    assert "nothing of it was kept" in job.error and live.FAILED in job.images
    assert counts(arena) == before
    assert media_files(arena) == files  # the procedural image that did arrive was not written either
    assert KEY not in job.error and KEY not in caplog.text


def test_keys_never_reach_the_database(live_arena, stub):
    arena = live_arena
    answer = {"data": [{"b64_json": base64.b64encode(png()).decode(), "revised_prompt": f"echo {KEY}"}]}
    stub.add("POST", "/v1/images/generations", Reply(200, answer))
    make_live(arena, generators=["proc-crisp", "remote"])
    job = finish(arena.live.start("s-live", "a cat"))
    assert job.state == live.READY, job.error
    assert stub.requests[0].headers["authorization"] == f"Bearer {KEY}"
    db = Path(arena.settings.database_url.removeprefix("sqlite:///"))
    if db.exists():
        arena.engine.dispose()
        assert KEY.encode() not in db.read_bytes()
        assert not any(KEY.encode() in p.read_bytes() for p in db.parent.glob("*.db-wal"))
    else:  # PostgreSQL: every text column a generated image touches
        from imagearena.storage.models import Image, Model

        with arena.read_session() as session:
            texts = list(session.scalars(select(Image.source))) + [
                str(m) for m in session.scalars(select(Model.meta))
            ]
        assert not any(KEY in t for t in texts)


def test_prompt_filter_runs_before_any_generator(live_arena, stub):
    arena = live_arena
    make_live(arena, generators=["proc-crisp", "remote"])
    for prompt in ("a FORBIDDEN   thing in a box", "gore!"):
        with pytest.raises(InputError, match="denied term"):
            arena.live.start("s-live", prompt)
    assert stub.requests == []
    job = finish(arena.live.start("s-live", "gorest mountain"))  # whole words only
    assert job.prompt == "gorest mountain"


def test_a_prompt_is_drawn_from_the_study_prompts(live_arena):
    arena = live_arena
    make_live(arena, prompts=["one yellow star", "two pink flowers", ""])
    drawn = {finish(arena.live.start("s-live", None)).prompt for _ in range(4)}
    assert drawn <= {"one yellow star", "two pink flowers"}
    make_live(arena, "s-empty")
    with pytest.raises(InputError, match="type a prompt"):
        arena.live.start("s-empty", "")


def test_voter_limit_per_hour(live_arena):
    arena = live_arena
    make_live(arena, voter_limit_per_hour=2)
    for _ in range(2):
        finish(arena.live.start("s-live", "a moon", voter="v"))
    with pytest.raises(live.LiveLimitError) as refused:
        arena.live.start("s-live", "a moon", voter="v")
    assert refused.value.http_status == 429 and 0 < refused.value.retry_after_s <= 3600
    finish(arena.live.start("s-live", "a moon", voter="other"))  # another voter has their own


def test_daily_budget_per_generator_counts_what_was_made_today(live_arena):
    arena = live_arena
    names = ["proc-crisp", "proc-blurry", "proc-glitchy"]
    make_live(arena, generators=names, daily_budget={"proc-crisp": 1, "proc-blurry": 1})
    rounds = 0
    with pytest.raises(live.LiveLimitError, match="budget of proc-") as refused:
        for _ in range(4):  # a pair needs a budgeted generator: two rounds at most
            assert finish(arena.live.start("s-live", "a house")).state == live.READY
            rounds += 1
    assert rounds in (1, 2) and refused.value.retry_after_s <= 24 * 3600
    used = live_used(arena)
    assert used["proc-crisp"] == used["proc-blurry"] == 1 or rounds == 1
    assert sum(used.values()) == 2 * rounds


def live_used(arena) -> dict[str, int]:
    from datetime import UTC, datetime

    from imagearena.storage.live import generated_since
    from imagearena.storage.studies import get_study

    with arena.read_session() as session:
        study = get_study(session, "s-live")
        return generated_since(session, study.id, datetime.now(UTC).replace(hour=0, minute=0, second=0))


def test_settings_are_checked(live_arena):
    arena = live_arena
    from imagearena.arena.studies import create_study

    create_study(arena, "s-four", round_type="order4")
    with pytest.raises(InputError, match="no generator entry named 'nope'"):
        live.save_live_settings(arena, "s-four", generators=["nope"])
    with pytest.raises(InputError, match="at least 4"):
        live.save_live_settings(arena, "s-four", generators=["proc-crisp", "proc-blurry"])
    with pytest.raises(InputError, match="not one of the study's generators"):
        live.save_live_settings(arena, "s-four", generators=[], daily_budget={"proc-crisp": 3})
    with pytest.raises(ConflictError, match="not live"):
        arena.live.start("s-four", "a cube")
    saved = live.save_live_settings(arena, "s-four", generators=[f"proc-{s}" for s in STYLES])
    assert saved.enabled and "remote" in saved.available


def test_the_study_sampler_picks_the_generators_once_it_knows_them(live_arena):
    """After rounds of every generator, the pool's sampler chooses among the study's generators only."""
    arena = live_arena
    make_live(arena, generators=["proc-crisp", "proc-blurry", "proc-glitchy"])
    for k in range(6):
        job = finish(arena.live.start("s-live", f"a star {k}"))
        record_vote(arena, job.match.token, "model_a")
    arena.pools.invalidate("s-live")
    pool = arena.pools.get("s-live")
    assert pool.sampler is not None and pool.playable_models >= {"proc-crisp", "proc-blurry"}
    picks = {pool.choose(["proc-crisp", "proc-blurry", "proc-glitchy"], 2) for _ in range(20)}
    assert None not in picks and all(set(p) <= {"proc-crisp", "proc-blurry", "proc-glitchy"} for p in picks)
    assert pool.choose(["proc-crisp"], 2) is None  # too few it knows: the caller draws uniformly


def test_a_generator_without_its_key_fails_the_round_with_the_variable_named(live_arena, monkeypatch):
    arena = live_arena
    make_live(arena, generators=["proc-crisp", "remote"])
    monkeypatch.delenv("LIVE_TEST_KEY")
    before = counts(arena)
    job = finish(arena.live.start("s-live", "a kite"))
    assert job.state == live.FAILED and "LIVE_TEST_KEY" in job.error
    assert live.FAILED in job.images and counts(arena) == before
