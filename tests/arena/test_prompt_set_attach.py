"""A prompt set attached to a study: `imagearena prompts attach` (a stored name, or a file imported
first), shown by `prompts show` and the study's API detail, recorded by `imagearena bench --prompts` for a
stored set, and drawn from by a live study whose settings list no prompts; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import bulk_helpers
import pytest
from bulk_helpers import Brightness
from live_helpers import STYLES, live_stub
from typer.testing import CliRunner

from imagearena.arena import live
from imagearena.arena.studies import create_study, study_detail
from imagearena.cli import app

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


def invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [*map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def test_attach_a_file_then_a_stored_name_and_show_it(make_arena, make_client, tmp_path):
    arena = make_arena()
    db = arena.settings.database_url
    create_study(arena, "s-attach")
    prompts = tmp_path / "animals.txt"
    prompts.write_text("a red fox\na white owl\n")
    assert "Attached the prompt set 'animals' (2 prompts)" in invoke(
        "prompts", "attach", prompts, "--study", "s-attach", "--db", db
    )
    assert study_detail(arena, "s-attach").prompt_set == "animals"
    shown = json.loads(invoke("prompts", "show", "animals", "--format", "json", "--db", db))
    assert shown["studies"] == ["s-attach"] and [r["prompt"] for r in shown["rows"]] == [
        "a red fox",
        "a white owl",
    ]
    assert "attached to s-attach" in invoke("prompts", "show", "animals", "--db", db)

    invoke("prompts", "import", prompts, "--name", "zoo", "--db", db)
    invoke("prompts", "attach", "zoo", "--study", "s-attach", "--db", db)
    assert study_detail(arena, "s-attach").prompt_set == "zoo"
    assert make_client(arena).get("/api/v1/studies/s-attach").json()["prompt_set"] == "zoo"
    assert json.loads(invoke("prompts", "show", "animals", "--format", "json", "--db", db))["studies"] == []

    prompts.write_text("something else\n")  # a different file under a stored set's name
    result = CliRunner().invoke(app, ["prompts", "attach", str(prompts), "--study", "s-attach", "--db", db])
    assert "--name NAME" in str(result.exception)
    result = CliRunner().invoke(app, ["prompts", "attach", "zoo", "--study", "nope", "--db", db])
    assert "unknown study 'nope'" in str(result.exception)


def test_bench_with_a_stored_set_attaches_it_to_the_bulk_study(settings, tmp_path):
    gens = tmp_path / "generators.toml"
    gens.write_text(GENERATORS)
    prompts = tmp_path / "shapes.txt"
    prompts.write_text("a red circle\nthree yellow stars\n")
    db = settings.database_url
    invoke("prompts", "import", prompts, "--name", "shapes", "--db", db)
    with bulk_helpers.plugins():
        invoke("bench", "--study", "b", "--prompts", "shapes", "--generator", "crisp", "--scorer",
               Brightness.name, "--generators", gens, "--db", db, "--data-dir", tmp_path / "data")  # fmt: skip
        invoke("bench", "--study", "b-file", "--prompts", prompts, "--generator", "crisp", "--scorer",
               Brightness.name, "--generators", gens, "--db", db, "--data-dir", tmp_path / "data")  # fmt: skip
    shown = json.loads(invoke("prompts", "show", "shapes", "--format", "json", "--db", db))
    assert shown["studies"] == ["b"]  # a prompt file is recorded in the manifest, not attached


stub = pytest.fixture(live_stub, name="stub")


def test_a_live_study_draws_from_its_attached_set_unless_its_settings_list_prompts(make_arena, seeded, stub):
    from imagearena.arena.prompt_sets import attach_prompt_set, import_prompt_set
    from imagearena.prompts.loaders import Prompt, PromptSet

    arena = make_arena()
    texts = ("a purple moon", "an orange kite")
    import_prompt_set(
        seeded, PromptSet("sky", "sky.txt", tuple(Prompt(t, {}) for t in texts), "0" * 64), "sky"
    )
    create_study(arena, "s-live")
    live.save_live_settings(arena, "s-live", generators=[f"proc-{s}" for s in STYLES])
    attach_prompt_set(seeded, "s-live", "sky")

    def drawn() -> set[str]:
        prompts = set()
        for _ in range(4):
            job = arena.live.start("s-live", None)
            deadline = time.monotonic() + 20
            while not job.done and time.monotonic() < deadline:
                job.wait(job.version, 0.5)
            prompts.add(job.prompt)
        return prompts

    assert drawn() <= set(texts)
    live.save_live_settings(
        arena, "s-live", generators=[f"proc-{s}" for s in STYLES], prompts=["a green cube"]
    )
    assert drawn() == {"a green cube"}
