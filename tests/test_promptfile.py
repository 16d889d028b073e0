"""The one reader of prompts files that the folder ranker and the folder generator (with import-folder)
share: the same file gives both the same rows and the same problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagearena.folders.prompts import read_prompts_file
from imagearena.generators.folder import read_prompt_table
from imagearena.promptfile import PromptTable, prompt_rows

BAD_JSONL = '{"file": "a.png", "prompt": "a cat"}\nnot json\n{"image": "b.png"}\n\n{"path": "c.png", "text": "a dog"}\n'


def test_rows_and_problems_of_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text(BAD_JSONL)
    problems: list[tuple[str, str]] = []
    rows = list(prompt_rows(path, problems))
    assert rows == [("prompts.jsonl:1", "a.png", "a cat"), ("prompts.jsonl:5", "c.png", "a dog")]
    assert [where for where, _ in problems] == ["prompts.jsonl:2", "prompts.jsonl:3"]
    assert problems[0][1].startswith("not valid JSON")


@pytest.mark.parametrize("name", ["prompts.ndjson", "prompts.JSONL"])
def test_the_extension_says_json_lines(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text('{"file": "a.png", "caption": "a cat"}\n')
    assert list(prompt_rows(path, [])) == [(f"{name}:1", "a.png", "a cat")]


def test_csv_rows_and_a_row_without_its_prompt(tmp_path: Path) -> None:
    path = tmp_path / "prompts.csv"
    path.write_text("\ufeffFile , Prompt\na.png,a cat\nb.png\n")
    problems: list[tuple[str, str]] = []
    assert list(prompt_rows(path, problems)) == [("prompts.csv:2", "a.png", "a cat")]
    assert problems == [("prompts.csv:3", "row lacks its file or its prompt")]


def test_a_file_that_is_not_utf8_gives_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "prompts.csv"
    path.write_bytes(b"file,prompt\na.png,\xff\n")
    problems: list[tuple[str, str]] = []
    assert list(prompt_rows(path, problems)) == []
    assert len(problems) == 1 and problems[0][0] == "prompts.csv" and "UTF-8" in problems[0][1]


def test_both_readers_report_a_file_alike(tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text(BAD_JSONL)
    ranker, generator = read_prompts_file(tmp_path / "prompts.jsonl"), read_prompt_table(tmp_path)
    assert ranker.prompts == generator.prompts == {"a.png": "a cat", "c.png": "a dog"}
    assert ranker.problems == generator.problems


def test_a_lookup_falls_back_to_the_bare_file_name() -> None:
    table = PromptTable(prompts={"sdxl/a.png": "own", "a.png": "any", "b.png": "bare"})
    assert (table.lookup("sdxl/a.png"), table.lookup("flux/b.png"), table.lookup("c.png")) == (
        "own",
        "bare",
        None,
    )
