"""Bulk runs: prompts x generators -> images -> scores -> the automatic leaderboard, stored as a bulk
study. A killed run resumes without redoing a unit it had finished (every generator and scorer call is
counted), failed units are retried a bounded number of times and then reported while the run goes on,
and the leaderboard matches an independent computation from the stored scores."""

from __future__ import annotations

import math
from collections import defaultdict

import bulk_helpers
import numpy as np
import pytest
from bulk_helpers import COUNTING_BACKEND, Brightness, CountingGenerator, Redness

from imagearena.arena.bulk import (
    GENERATE,
    SCORE,
    BulkPrompt,
    bulk_leaderboard,
    make_plan,
    run_bulk,
    select_prompts,
)
from imagearena.arena.database import database_session
from imagearena.errors import InputError
from imagearena.generators.config import parse_entry
from imagearena.prompts.loaders import Prompt, PromptSet
from imagearena.storage import bulk as bulk_rows
from imagearena.storage import studies
from imagearena.types import StudyKind

PROMPTS = [
    BulkPrompt("a red circle at night", "shapes"),
    BulkPrompt("three yellow stars in the sky", "shapes"),
    BulkPrompt("a blue house by the ocean", "scenes"),
]


@pytest.fixture(autouse=True)
def counting():
    with bulk_helpers.plugins():
        yield


def entry(name: str, style: str, concurrency: int = 2):
    return parse_entry(
        name,
        {"backend": COUNTING_BACKEND, "style": style, "size": "24x24", "max_concurrency": concurrency},
    )


def bulk_plan(study="bench", n=2, scorers=(Brightness.name, Redness.name), concurrency=2):
    generators = [entry("crisp", "crisp", concurrency), entry("glitchy", "glitchy", concurrency)]
    return make_plan(study, PROMPTS, generators, scorers, images_per_prompt=n, seed=7)


def stored(settings, study="bench"):
    """(images as (generator, prompt, seed), scores as (scorer, generator, prompt, value))."""
    with database_session(settings.database_url, create=False) as session:
        row = studies.get_study(session, study)
        images = [(i.generator, i.prompt, i.seed) for i in bulk_rows.study_images(session, row.id)]
        scores = [(s.scorer, s.generator, s.prompt, s.value) for s in bulk_rows.study_scores(session, row.id)]
        return images, scores


def test_the_plan_counts_prompts_images_and_scorer_calls():
    plan = bulk_plan(n=3)
    assert (len(plan.prompts), plan.images, plan.scorer_calls) == (3, 18, 36)
    text = "\n".join(plan.describe())
    assert "3 prompts x 2 generators x 3 per prompt = 18" in text
    assert "Scorer calls: 18 images x 2 scorers = 36" in text
    assert len(plan.units()) == 18 and {u.seed for u in plan.units()} == {7, 8, 9}


def test_a_plan_refuses_unknown_scorers_bad_names_and_no_prompts():
    with pytest.raises(InputError, match="study name"):
        make_plan("bad name!", PROMPTS, [entry("crisp", "crisp")], [Brightness.name])
    with pytest.raises(Exception, match="unknown scorer 'nope'"):
        make_plan("s", PROMPTS, [entry("crisp", "crisp")], ["nope"])
    with pytest.raises(InputError, match="no prompt"):
        make_plan("s", [], [entry("crisp", "crisp")], [Brightness.name])


def test_prompts_are_sampled_with_a_seed_each_text_once_with_their_category():
    prompts = tuple(Prompt(f"prompt {i}", {"Category": f"c{i % 3}"}) for i in range(20))
    prompt_set = PromptSet("s", "s.tsv", (*prompts, Prompt("prompt 3", {})), "x")
    every = select_prompts(prompt_set)
    assert len(every) == 20 and every[4] == BulkPrompt("prompt 4", "c1")
    drawn = select_prompts(prompt_set, sample=5, seed=3)
    assert (
        drawn == select_prompts(prompt_set, sample=5, seed=3) != select_prompts(prompt_set, sample=5, seed=4)
    )
    assert len({p.text for p in drawn}) == 5


def test_a_run_stores_a_bulk_study_and_its_leaderboard(settings):
    plan = bulk_plan()
    progress = []
    report = run_bulk(settings, plan, batch_size=4, on_progress=lambda *p: progress.append(p))
    assert (report.generated, report.already_generated, report.scored, report.failures) == (12, 0, 24, [])
    images, scores = stored(settings)
    assert sorted(images) == sorted((u.generator, u.prompt, u.seed) for u in plan.units())
    assert len(scores) == 24
    assert progress[0] == (GENERATE, 0, 12) and progress[-1] == (f"{SCORE} {Redness.name}", 12, 12)
    with database_session(settings.database_url, create=False) as session:
        assert studies.get_study(session, "bench").kind == StudyKind.BULK

    # the leaderboard against an independent computation from the stored scores
    for board in report.boards:
        per_prompt = defaultdict(list)
        for scorer, generator, prompt, value in scores:
            if scorer == board.scorer:
                per_prompt[(generator, prompt)].append(value)
        for generator in ("crisp", "glitchy"):
            means = [np.mean(v) for (g, _), v in per_prompt.items() if g == generator]
            got = board.means[generator]
            assert got.mean == pytest.approx(np.mean(means))
            half = 4.302652729911275 * np.std(means, ddof=1) / math.sqrt(3)  # t(0.975, 2)
            assert (got.lower, got.upper) == pytest.approx((np.mean(means) - half, np.mean(means) + half))
            assert (got.prompts, got.images) == (3, 6)
            shapes = [np.mean(per_prompt[(generator, p.text)]) for p in PROMPTS if p.category == "shapes"]
            assert board.categories["shapes"][generator].mean == pytest.approx(np.mean(shapes))
        wins = sum(
            np.mean(per_prompt[("crisp", p.text)]) > np.mean(per_prompt[("glitchy", p.text)]) for p in PROMPTS
        )
        bt = {row.model: row for row in board.bt}
        assert bt["crisp"].wins == wins and bt["glitchy"].wins == 3 - wins
        assert (bt["crisp"].rating > bt["glitchy"].rating) == (wins > 1)
    assert bulk_leaderboard(settings, "bench")[0].means == report.boards[0].means


def test_a_killed_run_resumes_without_redoing_a_finished_unit(settings):
    """Killed while scoring: the rerun makes no image again and scores only what was not stored."""
    plan = bulk_plan()
    Brightness.interrupt_after = 6  # the second batch of four kills the run
    with pytest.raises(KeyboardInterrupt):
        run_bulk(settings, plan, batch_size=4)
    images, scores = stored(settings)
    assert len(images) == 12 and sorted(CountingGenerator.calls.values()) == [1] * 12
    assert len(scores) == 4  # the first batch was committed
    done_first = {(s, p, round(v, 9)) for s, _, p, v in scores}
    first_calls = dict(Brightness.calls)

    bulk_helpers.reset()
    report = run_bulk(settings, plan, batch_size=4)
    assert (report.generated, report.already_generated) == (0, 12)
    assert CountingGenerator.calls == {}  # no image made twice
    assert report.already_scored == 4 and report.scored == 8 + 12
    again = set(Brightness.calls) & done_first
    assert not again, f"scored again after the resume: {again}"
    assert sum(Brightness.calls.values()) == 8 and sum(Redness.calls.values()) == 12
    assert sum(first_calls.values()) + sum(Brightness.calls.values()) == 12
    _, scores = stored(settings)
    assert len(scores) == 24


def test_a_run_killed_while_generating_resumes_with_the_missing_images_only(settings):
    plan = bulk_plan(concurrency=1)
    CountingGenerator.interrupt_after = 5
    with pytest.raises(KeyboardInterrupt):
        run_bulk(settings, plan)
    images, _ = stored(settings)
    assert 0 < len(images) < 12
    bulk_helpers.reset()
    report = run_bulk(settings, plan)
    remade = set(CountingGenerator.calls) & set(images)
    assert not remade, f"made again after the resume: {remade}"
    assert sorted(CountingGenerator.calls.values()) == [1] * (12 - len(images))
    assert report.generated == 12 - len(images) and report.failures == []
    assert len(stored(settings)[0]) == 12


def test_failed_units_are_retried_a_bounded_number_of_times_then_reported(settings):
    plan = bulk_plan(scorers=(Brightness.name,))
    CountingGenerator.fail_first = {PROMPTS[0].text}  # a 503 once: the retry makes them
    CountingGenerator.fail_always = {PROMPTS[1].text}  # never made: reported after 1 + 2 tries
    Brightness.poison = {PROMPTS[2].text}  # its images crash the scorer: reported, the others scored
    failures = []
    report = run_bulk(settings, plan, retries=2, batch_size=4, on_failure=failures.append)
    assert report.generated == 8
    tries = CountingGenerator.tries
    assert {tries[("crisp", PROMPTS[1].text, s)] for s in (7, 8)} == {3}
    assert {tries[("crisp", PROMPTS[0].text, s)] for s in (7, 8)} == {2}
    made = [f for f in failures if f.stage == GENERATE]
    assert sorted((f.generator, f.seed) for f in made) == [
        ("crisp", 7),
        ("crisp", 8),
        ("glitchy", 7),
        ("glitchy", 8),
    ]
    assert all("503" in f.message and f.prompt == PROMPTS[1].text for f in made)
    unscored = [f for f in failures if f.stage == SCORE]
    assert len(unscored) == 4 and {f.prompt for f in unscored} == {PROMPTS[2].text}
    assert all(f.scorer == Brightness.name and "CUDA error" in f.message for f in unscored)
    assert report.scored == 4 and report.failures == failures
    images, scores = stored(settings)
    assert len(images) == 8 and len(scores) == 4

    # the next run tries only what is still missing
    bulk_helpers.reset()
    again = run_bulk(settings, plan, retries=0)
    assert (again.generated, again.scored, again.failures) == (4, 8, [])
    assert set(CountingGenerator.calls) == {
        (g, PROMPTS[1].text, s) for g in ("crisp", "glitchy") for s in (7, 8)
    }


def test_a_bulk_run_refuses_a_study_of_another_kind(settings):
    with database_session(settings.database_url) as session:
        studies.create_study(session, "human", kind=StudyKind.LIVE)
        session.commit()
    with pytest.raises(InputError, match="is a live study"):
        run_bulk(settings, bulk_plan(study="human"))


def test_a_generators_unexpected_error_fails_its_units_not_the_run(settings):
    CountingGenerator.crash = {PROMPTS[0].text}
    failures = []
    report = run_bulk(settings, bulk_plan(scorers=(Brightness.name,)), retries=1, on_failure=failures.append)
    assert report.generated == 8 and report.scored == 8
    assert len(failures) == 4 and all("failed: ValueError: low >= high" in f.message for f in failures)
    assert {CountingGenerator.tries[("crisp", PROMPTS[0].text, s)] for s in (7, 8)} == {2}
