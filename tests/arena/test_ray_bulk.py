"""A bulk run on a local Ray instance (2 CPUs, started once for this module): generation and scoring
run in Ray actors in other processes, every image and score is written by the driver through the same
storage as a local run (SQLite, and PostgreSQL as on a cluster), each unit is done once (counted in a
log the workers append to), and a rerun does nothing."""

from __future__ import annotations

import os
from pathlib import Path

import bulk_helpers
import pytest
from bulk_helpers import COUNTING_BACKEND, DIE_ENV, LOG_ENV, REGISTER_ENV, Brightness, DiesOnce, read_log

from imagearena.arena.bulk import BulkPrompt, make_plan, run_bulk
from imagearena.arena.database import database_session
from imagearena.generators.config import parse_entry
from imagearena.settings import Settings
from imagearena.storage import bulk as bulk_rows
from imagearena.storage import studies

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
PROMPTS = [
    BulkPrompt(f"{n} {colour} circles", colour) for n in ("two", "three") for colour in ("red", "blue")
]


@pytest.fixture(scope="module")
def ray_log(tmp_path_factory):
    """A local Ray instance whose workers import this suite's helpers and log their calls."""
    folder = tmp_path_factory.mktemp("ray")
    log = folder / "calls.jsonl"
    env = {
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        LOG_ENV: str(log),
        DIE_ENV: str(folder / "died"),
        REGISTER_ENV: "1",
    }
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        yield log
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def counting():
    with bulk_helpers.plugins():
        yield


def test_a_bulk_run_on_ray_actors_does_each_unit_once(tmp_path, db_url, ray_log):
    before = len(read_log(str(ray_log)))  # the workers' log is shared by the module's tests
    settings = Settings(data_dir=tmp_path / "data", db_url=db_url)
    generators = [
        parse_entry(name, {"backend": COUNTING_BACKEND, "style": name, "size": "24x24"})
        for name in ("crisp",)
    ]
    plan = make_plan("ray-bench", PROMPTS, generators, [Brightness.name], images_per_prompt=4)
    report = run_bulk(settings, plan, ray_address="auto", ray_workers=2, batch_size=3)
    assert (report.generated, report.scored, report.failures) == (16, 16, [])

    calls = read_log(str(ray_log))[before:]
    made = [tuple(c[1:]) for c in calls if c[0] == "generate"]
    assert sorted(made) == sorted((u.generator, u.prompt, u.seed) for u in plan.units())
    scored = sorted(tuple(c[1:]) for c in calls if c[0] == "score")
    assert not Brightness.calls  # nothing was scored in this process
    with database_session(settings.database_url, create=False) as session:
        row = studies.get_study(session, "ray-bench")
        stored = sorted(
            (s.scorer, s.prompt, round(s.value, 9)) for s in bulk_rows.study_scores(session, row.id)
        )
    assert stored == scored  # each score computed once, by a worker, and stored by the driver
    board = {b.scorer: b for b in report.boards}
    assert set(board) == {Brightness.name}
    assert board[Brightness.name].means["crisp"].images == 16

    again = run_bulk(settings, plan, ray_address="auto", ray_workers=2)
    assert (again.generated, again.already_generated, again.scored, again.already_scored) == (0, 16, 0, 16)
    assert len(read_log(str(ray_log))) == before + len(calls)  # the rerun asked the workers for nothing


def test_a_worker_that_dies_is_replaced_and_its_batch_retried(tmp_path, sqlite_url, ray_log):
    before = len(read_log(str(ray_log)))
    settings = Settings(data_dir=tmp_path / "data", db_url=sqlite_url)
    generator = parse_entry("crisp", {"backend": COUNTING_BACKEND, "style": "crisp", "size": "24x24"})
    plan = make_plan("ray-dies", PROMPTS, [generator], [DiesOnce.name], images_per_prompt=2)
    report = run_bulk(settings, plan, ray_address="auto", ray_workers=2, batch_size=4, retries=1)
    assert (report.generated, report.scored, report.failures) == (8, 8, [])
    assert (ray_log.parent / "died").exists()  # a scorer process did end mid-batch
    scored = [c for c in read_log(str(ray_log))[before:] if c[0] == "score"]
    assert len(scored) == 8  # the batch it held was scored again, once, by another actor
