"""`imagearena prompts search|sample` through the real CLI, on a small prompt file and the bundled
model; the embeddings land in --data-dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imagearena.cli import app
from imagearena.errors import InputError
from imagearena.prompts.embedding import Embedder

ROWS = [
    ("a red sports car on the road", "Vehicles"),
    ("a vintage bicycle leaning on a wall", "Vehicles"),
    ("a kitten asleep in a basket", "Animals"),
    ("a tabby cat chasing a mouse", "Animals"),
    ("a lion resting in tall grass", "Animals"),
    ("the skyline of a city at night", "Outdoor Scenes"),
    ("a bowl of ramen with an egg", "Food & Beverage"),
    ("a slice of pepperoni pizza", "Food & Beverage"),
    ("an astronaut floating above the earth", "World Knowledge"),
    ("a rocket launching into space", "World Knowledge"),
]


@pytest.fixture
def prompt_file(tmp_path: Path, minilm: Embedder) -> Path:  # minilm: skip without the extra
    path = tmp_path / "set.tsv"
    path.write_text("Prompt\tCategory\n" + "".join(f"{p}\t{c}\n" for p, c in ROWS), encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["prompts", *args], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout, result.stderr


def test_search_json_then_cached(prompt_file: Path, tmp_path: Path) -> None:
    args = [
        "search",
        "cats",
        "--set",
        str(prompt_file),
        "-k",
        "3",
        "--format",
        "json",
        "--data-dir",
        str(tmp_path),
    ]
    out, err = run(*args)
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert {r["prompt"] for r in rows[:2]} == {"a kitten asleep in a basket", "a tabby cat chasing a mouse"}
    assert all(r["metadata"] == {"Category": dict(ROWS)[r["prompt"]]} for r in rows)
    assert rows[0]["similarity"] >= rows[1]["similarity"] >= rows[2]["similarity"] > 0
    assert rows[0]["row"] == [p for p, _ in ROWS].index(rows[0]["prompt"])
    assert "Embedded 10 prompts of set with all-MiniLM-L6-v2" in err
    out_again, err_again = run(*args)
    assert json.loads(out_again) == rows and "Embedded" not in err_again


def test_search_table_shows_metadata(prompt_file: Path, tmp_path: Path) -> None:
    out, _ = run("search", "noodle soup", "--set", str(prompt_file), "-k", "1", "--data-dir", str(tmp_path))
    assert "Category" in out and "a bowl of ramen with an egg" in out and "Food & Beverage" in out


def test_sample_is_seeded_and_distinct(prompt_file: Path, tmp_path: Path) -> None:
    env = {"IMAGEARENA_PROMPT_SET": str(prompt_file)}
    args = ["sample", "--topics", "cats, space", "-n", "2", "--from-top", "3", "--seed", "11", "-f", "json"]
    out, _ = run(*args, "--data-dir", str(tmp_path), env=env)
    drawn = json.loads(out)
    assert drawn["seed"] == 11
    picks = drawn["prompts"]
    assert [p["topic"] for p in picks] == ["cats", "cats", "space", "space"]
    assert len({p["prompt"] for p in picks}) == 4
    assert {p["prompt"] for p in picks[:2]} <= {r for r, c in ROWS if c == "Animals"}
    assert {p["prompt"] for p in picks[2:]} <= {r for r, c in ROWS if c == "World Knowledge"} | {
        "the skyline of a city at night"
    }
    assert json.loads(run(*args, "--data-dir", str(tmp_path), env=env)[0]) == drawn
    table, err = run("sample", "--topics", "pizza", "-n", "1", "--data-dir", str(tmp_path), env=env)
    assert "pizza" in table and "Seed " in err and "--seed" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "cats", "--set", "missing.txt"], "not found"),
        (["sample", "--topics", "cats", "-n", "4", "--from-top", "3"], "at most --from-top"),
        (["sample", "--topics", "cats,,space"], "no empty ones"),
    ],
)
def test_mistakes_are_input_errors(prompt_file: Path, tmp_path: Path, args: list[str], message: str) -> None:
    full = ["prompts", *args, "--data-dir", str(tmp_path)]
    if "--set" not in args:
        full += ["--set", str(prompt_file)]
    result = CliRunner().invoke(app, full)
    assert result.exit_code == 1 and isinstance(result.exception, InputError), result.output
    assert message in str(result.exception)


def test_set_is_required(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["prompts", "search", "cats", "--data-dir", str(tmp_path)], env={"IMAGEARENA_PROMPT_SET": None}
    )
    assert result.exit_code == 2 and "--set" in result.output


def test_import_list_show_and_search_a_stored_set(prompt_file: Path, tmp_path: Path) -> None:
    where = ["--data-dir", str(tmp_path)]
    out, _ = run("import", str(prompt_file), "--name", "mine", *where)
    assert out.strip() == "Stored 10 prompts as the prompt set 'mine'."
    [listed] = json.loads(run("list", "--format", "json", *where)[0])
    assert (listed["name"], listed["prompts"], listed["source"]) == ("mine", 10, str(prompt_file))
    shown = json.loads(run("show", "mine", "--limit", "2", "-f", "json", *where)[0])
    assert shown["prompts"] == 10
    assert shown["rows"] == [
        {"row": i, "prompt": p, "metadata": {"Category": c}} for i, (p, c) in enumerate(ROWS[:2])
    ]
    table, _ = run("show", "mine", *where)
    assert "mine: 10 prompts" in table and "Category" in table
    # The stored set has the file's fingerprint: searching it reuses the file's cached embeddings.
    run("search", "cats", "--set", str(prompt_file), *where)
    by_name, err = run("search", "cats", "--set", "mine", "-f", "json", *where)
    by_prefix, _ = run("search", "cats", "--set", "db:mine", "-f", "json", *where)
    assert "Embedded" not in err and json.loads(by_name) == json.loads(by_prefix)
    assert [r["prompt"] for r in json.loads(by_name)][:2] == [
        r["prompt"]
        for r in json.loads(run("search", "cats", "--set", str(prompt_file), "-f", "json", *where)[0])
    ][:2]


def test_import_twice_needs_replace(prompt_file: Path, tmp_path: Path) -> None:
    from imagearena.errors import ConflictError, UnknownNameError

    where = ["--data-dir", str(tmp_path)]
    run("import", str(prompt_file), *where)  # named after the file: set
    result = CliRunner().invoke(app, ["prompts", "import", str(prompt_file), *where])
    assert isinstance(result.exception, ConflictError) and "--replace" in str(result.exception)
    short = tmp_path / "short.txt"
    short.write_text("only one prompt\n", encoding="utf-8")
    out, _ = run("import", str(short), "--name", "set", "--replace", *where)
    assert "Stored 1 prompts" in out
    result = CliRunner().invoke(app, ["prompts", "search", "x", "--set", "unknown", *where])
    assert isinstance(result.exception, UnknownNameError) and "stored sets: set" in str(result.exception)
