"""Detaching a study's prompt set (`imagearena prompts detach --study NAME`), the studies each stored set
is attached to in `prompts list`, and a live study drawing its prompts as it did before the attachment
once the set is detached; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
import time

import pytest
from live_helpers import STYLES, live_stub
from typer.testing import CliRunner

from imagearena.arena import live
from imagearena.arena.prompt_sets import attach_prompt_set, detach_prompt_set, import_prompt_set
from imagearena.arena.studies import create_study, study_detail
from imagearena.cli import app, main
from imagearena.errors import InputError
from imagearena.prompts.loaders import Prompt, PromptSet


def invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [*map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def run_main(monkeypatch, capsys, *args: object) -> tuple[int, str, str]:
    """The installed entry point in-process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["imagearena", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def a_set(*texts: str) -> PromptSet:
    return PromptSet("sky", "sky.txt", tuple(Prompt(t, {}) for t in texts), "0" * 64)


def test_detach_clears_the_attachment_and_refuses_a_study_without_one(make_arena, monkeypatch, capsys):
    arena = make_arena()
    db = arena.settings.database_url
    create_study(arena, "s-detach")
    create_study(arena, "s-other")
    import_prompt_set(arena.settings, a_set("a red fox", "a white owl"), "zoo")
    invoke("prompts", "attach", "zoo", "--study", "s-detach", "--db", db)
    invoke("prompts", "attach", "zoo", "--study", "s-other", "--db", db)
    listed = json.loads(invoke("prompts", "list", "--format", "json", "--db", db))
    assert [(r["name"], r["studies"]) for r in listed] == [("zoo", ["s-detach", "s-other"])]
    assert "s-detach, s-other" in invoke("prompts", "list", "--db", db)

    code, out, _ = run_main(monkeypatch, capsys, "prompts", "detach", "--study", "s-detach", "--db", db)
    assert code == 0 and out == "Detached the prompt set 'zoo' from the study 's-detach'.\n"
    assert study_detail(arena, "s-detach").prompt_set is None
    assert study_detail(arena, "s-other").prompt_set == "zoo"  # the other study keeps it
    assert json.loads(invoke("prompts", "show", "zoo", "--format", "json", "--db", db))["studies"] == [
        "s-other"
    ]
    listed = json.loads(invoke("prompts", "list", "--format", "json", "--db", db))
    assert listed[0]["studies"] == ["s-other"] and listed[0]["prompts"] == 2  # the set itself is kept

    code, out, err = run_main(monkeypatch, capsys, "prompts", "detach", "--study", "s-detach", "--db", db)
    assert (code, out) == (1, "")
    assert err.startswith("Error: the study 's-detach' has no prompt set attached: nothing to detach")
    assert "Traceback" not in err
    code, out, err = run_main(monkeypatch, capsys, "prompts", "detach", "--study", "nope", "--db", db)
    assert (code, out) == (1, "") and err.startswith("Error: unknown study 'nope'")


stub = pytest.fixture(live_stub, name="stub")


def test_a_live_study_falls_back_to_what_it_did_before_once_its_set_is_detached(make_arena, seeded, stub):
    """Detached, a live study whose settings list no prompts draws from its own prompts (those of the
    images it has) as before the attachment: none yet -> the error that says why it cannot generate."""
    arena = make_arena()
    texts = ("a purple moon", "an orange kite", "a grey whale")
    import_prompt_set(seeded, a_set(*texts), "sky")
    generators = [f"proc-{s}" for s in STYLES]

    def draw(study: str) -> str:
        job = arena.live.start(study, None)
        deadline = time.monotonic() + 20
        while not job.done and time.monotonic() < deadline:
            job.wait(job.version, 0.5)
        return job.prompt

    create_study(arena, "s-new")
    live.save_live_settings(arena, "s-new", generators=generators)  # no prompts of its own
    with pytest.raises(InputError, match="no prompts to draw from yet: type a prompt"):
        draw("s-new")  # without an attachment
    attach_prompt_set(seeded, "s-new", "sky")
    assert draw("s-new") in texts
    create_study(arena, "s-empty")
    live.save_live_settings(arena, "s-empty", generators=generators)
    attach_prompt_set(seeded, "s-empty", "sky")
    assert detach_prompt_set(seeded, "s-empty") == "sky"
    with pytest.raises(InputError, match="no prompts to draw from yet: type a prompt"):
        draw("s-empty")  # as without an attachment

    used = draw("s-new")  # one more round, so the study has images of one or two prompts
    own = {p for p in study_detail(arena, "s-new").prompts}
    assert used in own and own < set(texts)
    assert detach_prompt_set(seeded, "s-new") == "sky"
    assert {draw("s-new") for _ in range(6)} <= own  # its own prompts, never the rest of the set
