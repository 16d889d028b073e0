"""`imagearena bench` and `imagearena validate`: the plan of a dry run, a bulk run and its rerun, the
ImageReward Table 1 protocol on a tiny generated layout checked against an independent computation,
and the validator flow with the procedural generator and tiny scorers registered here."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict

import bulk_helpers
import numpy as np
import pytest
from bulk_helpers import (
    COUNTING_BACKEND,
    DELAY_ENV,
    LOG_ENV,
    REGISTER_ENV,
    Brightness,
    Redness,
    mean_pixel,
    read_log,
)
from PIL import Image
from typer.testing import CliRunner

from imagearena.arena.database import database_session
from imagearena.cli import app
from imagearena.storage import bulk as bulk_rows
from imagearena.storage import studies

GENERATORS = """
[generators.crisp]
backend = "procedural"
style = "crisp"
size = "24x24"

[generators.glitchy]
backend = "procedural"
style = "glitchy"
size = "24x24"
"""
PROMPTS = """Prompt\tCategory
a red circle at night\tShapes
three yellow stars\tShapes
a blue house by the sea\tScenes
a green tree in the snow\tScenes
"""


@pytest.fixture(autouse=True)
def tiny_scorers():
    with bulk_helpers.plugins():
        yield


@pytest.fixture
def files(tmp_path):
    gens = tmp_path / "gens.toml"
    gens.write_text(GENERATORS)
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text(PROMPTS)
    return gens, prompts, tmp_path / "data"


def invoke(*args: object):
    return CliRunner().invoke(app, [*map(str, args)])


def test_a_dry_run_prints_the_plan_and_makes_nothing(files):
    gens, prompts, data = files
    result = invoke("bench", "--study", "b", "--prompts", prompts, "--sample", 3, "--generator", "crisp",
                    "--generator", "glitchy", "--scorer", f"{Brightness.name},{Redness.name}",
                    "--images-per-prompt", 2, "--dry-run", "--generators", gens, "--data-dir", data)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Images: 3 prompts x 2 generators x 2 per prompt = 12" in result.output
    assert "Scorer calls: 12 images x 2 scorers = 24" in result.output
    assert "Already stored: nothing (no database at" in result.output
    assert not data.exists() and not Brightness.calls  # a dry run creates nothing


def test_a_bulk_run_prints_its_leaderboard_and_a_rerun_does_nothing_again(files):
    gens, prompts, data = files
    args = ("bench", "--study", "b", "--prompts", prompts, "--generator", "crisp,glitchy", "--scorer",
            Brightness.name, "--generators", gens, "--data-dir", data)  # fmt: skip
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "Study b: generated 8 (already 0), scored 8 (already 0), failed 0." in first.output
    assert f"{Brightness.name}: mean score per generator" in first.output
    assert "mean score per prompt category" in first.output and "Scenes" in first.output
    again = invoke(*args, "--format", "json")
    assert again.exit_code == 0, again.output
    assert "generated 0 (already 8), scored 0 (already 8)" in again.output
    [board] = json.loads(again.stdout)
    assert board["scorer"] == Brightness.name
    assert {g["generator"] for g in board["generators"]} == {"crisp", "glitchy"}
    assert set(board["categories"]) == {"Shapes", "Scenes"}
    assert sum(Brightness.calls.values()) == 8  # the rerun scored nothing
    plan = invoke(*args, "--scorer", f"{Brightness.name},{Redness.name}", "--dry-run")
    assert "Already stored: 8 of 8 images, 8 of 16 scores" in plan.output


def test_unknown_names_fail_in_one_line(files):
    gens, prompts, data = files
    result = invoke("bench", "--study", "b", "--prompts", prompts, "--generator", "nope", "--scorer",
                    Brightness.name, "--generators", gens, "--data-dir", data)  # fmt: skip
    assert result.exit_code == 1 and "no generator 'nope'" in str(result.exception)


def write_table1_layout(root, models, prompts, k):
    """benchmark/benchmark-prompts.json and generations/<model>/<id>_<k>.png of random solid colours."""
    rng = np.random.default_rng(5)
    root.mkdir()
    (root / "benchmark-prompts.json").write_text(
        json.dumps([{"id": f"00{i}-00{i}", "prompt": p} for i, p in enumerate(prompts)])
    )
    for model in models:
        folder = root / "generations" / model
        folder.mkdir(parents=True)
        for i in range(len(prompts)):
            for j in range(k):
                colour = tuple(int(c) for c in rng.integers(0, 256, 3))
                Image.new("RGB", (16, 16), colour).save(folder / f"00{i}-00{i}_{j}.png")


def test_table1_is_the_mean_over_prompts_of_the_mean_over_their_images(tmp_path):
    root = tmp_path / "benchmark"
    models = ["openjourney", "sd1-4", "vd"]
    prompts = ["a cat", "a dog on a skateboard", "a castle, matte painting"]
    write_table1_layout(root, models, prompts, k=3)
    result = invoke(
        "bench", "--reproduce-table1", root, "--scorer", Brightness.name, "--data-dir", tmp_path / "d"
    )
    assert result.exit_code == 0, result.output
    printed = dict(re.findall(r"^(\S+)\s+(-?\d+\.\d{4})\s", result.output, flags=re.M))
    expected = {}
    for model in models:  # independently: the files, decoded here, averaged per prompt, then over prompts
        per_prompt = defaultdict(list)
        for path in (root / "generations" / model).glob("*.png"):
            per_prompt[path.stem.rpartition("_")[0]].append(mean_pixel(Image.open(path)))
        expected[model] = f"{np.mean([np.mean(v) for v in per_prompt.values()]):.4f}"
    assert printed == expected
    assert "0.2614" in result.output  # the paper's openjourney value beside ours
    assert sum(Brightness.calls.values()) == len(models) * len(prompts) * 3


@pytest.mark.slow
def test_validate_prints_each_generators_mean_reward_and_components(files):
    """Loads the bundled MiniLM embedder (seconds) to draw prompts per topic."""
    pytest.importorskip("sentence_transformers")
    gens, prompts, data = files
    result = invoke("validate", "--topics", "shapes in the sky,houses", "-n", 1, "--from-top", 2,
                    "--prompts", prompts, "--generator", "crisp,glitchy", "--scorer",
                    f"{Brightness.name},{Redness.name}", "--seed", 11, "--format", "json",
                    "--generators", gens, "--data-dir", data)  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["seed"] == 11
    rows = {r["generator"]: r for r in out["generators"]}
    assert set(rows) == {"crisp", "glitchy"} and {r["images"] for r in rows.values()} == {2}
    # independently, from what the tiny scorers were asked: components are per-generator means, the
    # reward the equal-weight mean of each member's z-scores over the run's images
    by_scorer = defaultdict(list)
    for (scorer, prompt, value), count in {**Brightness.calls, **Redness.calls}.items():
        by_scorer[scorer].extend([(prompt, value)] * count)
    assert len(by_scorer[Brightness.name]) == len(by_scorer[Redness.name]) == 4
    assert sum(rows[g]["components"][Brightness.name] for g in rows) == pytest.approx(
        sum(v for _, v in by_scorer[Brightness.name]) / 2
    )
    # one image per prompt and generator: a generator's mean z-score is its component's distance from the
    # run's mean in the run's standard deviations
    for row in rows.values():
        expected = 0.0
        for scorer, pairs in by_scorer.items():
            values = np.array([v for _, v in pairs])
            expected += 0.5 * (row["components"][scorer] - values.mean()) / values.std(ddof=1)
        assert row["reward"] == pytest.approx(expected)
    assert sum(r["reward"] for r in rows.values()) == pytest.approx(0.0, abs=1e-9)  # z-scores centre the run

    # bench keeps the -k prompts closest to each topic (the embeddings are cached by now)
    plan = invoke("bench", "--study", "t", "--prompts", prompts, "--topics", "a house,the night sky", "-k", 1,
                  "--generator", "crisp", "--scorer", Brightness.name, "--dry-run", "--generators", gens,
                  "--data-dir", data)  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert "Study t (bulk): 2 prompts" in plan.output and "2 categories" in plan.output


RUN_CLI = "import bulk_helpers, sys; from imagearena.cli import main; sys.argv = ['imagearena', *sys.argv[1:]]; main()"


@pytest.mark.slow
def test_a_bench_killed_with_sigkill_resumes_without_redoing_a_stored_unit(tmp_path, monkeypatch):
    """A real kill: the command runs in a child process whose slow generator logs each image it makes;
    the child is killed mid-run, and the rerun makes and scores only what was not stored."""
    gens = tmp_path / "gens.toml"
    gens.write_text("".join(
        f'[generators.{s}]\nbackend = "{COUNTING_BACKEND}"\nstyle = "{s}"\nsize = "24x24"\nmax_concurrency = 1\n'
        for s in ("crisp", "glitchy")
    ))  # fmt: skip
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text(PROMPTS)
    log, data = tmp_path / "calls.jsonl", tmp_path / "data"
    args = ["bench", "--study", "k", "--prompts", str(prompts), "--generator", "crisp,glitchy", "--scorer",
            Brightness.name, "-n", "2", "--generators", str(gens), "--data-dir", str(data)]  # fmt: skip
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": tests, LOG_ENV: str(log), DELAY_ENV: "0.15", REGISTER_ENV: "1"}
    child = subprocess.Popen([sys.executable, "-c", RUN_CLI, *args], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while sum(c[0] == "generate" for c in read_log(str(log))) < 5:
            assert child.poll() is None and time.monotonic() < deadline, "the run ended before it was killed"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    with database_session(f"sqlite:///{data / 'imagearena.db'}", create=False) as session:
        row = studies.get_study(session, "k")
        kept = {(i.generator, i.prompt, i.seed) for i in bulk_rows.study_images(session, row.id)}
    assert 0 < len(kept) < 16
    first = len(read_log(str(log)))

    monkeypatch.setenv(LOG_ENV, str(log))
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    resumed = read_log(str(log))[first:]
    made = [tuple(c[1:]) for c in resumed if c[0] == "generate"]
    assert not set(made) & kept, "an image stored before the kill was made again"
    assert len(made) == len(set(made)) == 16 - len(kept)
    assert sum(c[0] == "score" for c in resumed) == 16  # none was scored before the kill
    assert f"generated {16 - len(kept)} (already {len(kept)}), scored 16 (already 0)" in result.output
