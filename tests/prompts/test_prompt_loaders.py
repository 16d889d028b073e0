"""Prompt-set loaders on the real PartiPrompts and ImageReward files, and on small files of each other
format (plain text, JSONL, DrawBench CSV, a local Hugging Face dataset)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from imagearena.errors import InputError
from imagearena.prompts.loaders import fingerprint, load_prompt_set


def test_partiprompts_tsv(shared_data: Path) -> None:
    path = shared_data / "PartiPrompts.tsv"
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    s = load_prompt_set(path)
    assert len(s) == len(rows) == 1632
    assert s.name == "PartiPrompts" and s.source == str(path)
    assert s.texts == [r.split("\t")[0].strip() for r in rows]
    first = s.prompts[0]
    assert (first.text, dict(first.metadata)) == (
        "bond",
        {
            "Category": "Abstract",
            "Challenge": "Basic",
            "Note": "Biology-inspired concepts with multiple meanings",
        },
    )
    # No CSV quoting in a TSV: a prompt that starts with a quote keeps it.
    assert any(t.startswith('"G I G G L E"') for t in s.texts)
    assert {p.metadata["Category"] for p in s.prompts} >= {
        "Abstract",
        "Animals",
        "Vehicles",
        "World Knowledge",
    }


def test_imagereward_test_json(shared_data: Path) -> None:
    raw = json.loads((shared_data / "imagereward-test.json").read_text(encoding="utf-8"))
    s = load_prompt_set(shared_data / "imagereward-test.json")
    assert len(s) == len(raw) == 466
    assert s.texts == [r["prompt"].strip() for r in raw]
    assert dict(s.prompts[0].metadata) == {k: v for k, v in raw[0].items() if k != "prompt"}
    assert s.prompts[0].metadata["ranking"] == [1, 2, 5, 3]


def test_imagereward_benchmark_prompts(shared_data: Path) -> None:
    s = load_prompt_set(shared_data / "imagereward-benchmark-prompts.json")
    assert len(s) == 100
    assert s.prompts[0].text == "a concept art of a vehicle, cyberpunk"
    assert dict(s.prompts[0].metadata) == {"id": "005695-0057"}


def test_plain_text_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("\ufeffa cat on a mat\n\n   \n  two dogs  \r\n#3 a hashtag prompt\n", encoding="utf-8")
    s = load_prompt_set(path)
    assert s.name == "mine"
    assert s.texts == ["a cat on a mat", "two dogs", "#3 a hashtag prompt"]
    assert all(p.metadata == {} for p in s.prompts)


def test_jsonl_objects_and_strings(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [
        {"Text": "a lighthouse", "style": "oil", "n": 3},
        "a bare string prompt",
        {"Text": "fog", "style": None},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    s = load_prompt_set(path)
    assert s.texts == ["a lighthouse", "a bare string prompt", "fog"]
    assert dict(s.prompts[0].metadata) == {"style": "oil", "n": 3}
    assert dict(s.prompts[2].metadata) == {"style": None}


def test_jsonl_bad_line_names_it(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"prompt": "ok"}\n{"prompt": oops}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"set\.jsonl:2: not JSON"):
        load_prompt_set(path)


def test_drawbench_csv(tmp_path: Path) -> None:
    """DrawBench's sheet: Prompts, Category; quoted fields may hold commas, quotes and line breaks."""
    path = tmp_path / "drawbench.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Prompts", "Category"])
        writer.writerow(["A red colored car.", "Colors"])
        writer.writerow(['A sign that says "Diffusion", on a wall.', "Text"])
        writer.writerow(["Two lines\nof prompt", "Misspellings"])
        writer.writerow(["", ""])
    s = load_prompt_set(path)
    assert s.texts == [
        "A red colored car.",
        'A sign that says "Diffusion", on a wall.',
        "Two lines\nof prompt",
    ]
    assert [p.metadata["Category"] for p in s.prompts] == ["Colors", "Text", "Misspellings"]


def test_named_column_and_unknown_column(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text("id,caption,negative\n1,a swan,blurry\n2,a goose,noisy\n", encoding="utf-8")
    assert load_prompt_set(path).texts == ["a swan", "a goose"]
    by_column = load_prompt_set(path, column="negative")
    assert by_column.texts == ["blurry", "noisy"]
    assert dict(by_column.prompts[0].metadata) == {"id": "1", "caption": "a swan"}
    with pytest.raises(InputError, match="no column 'prompt_text'; its columns: id, caption, negative"):
        load_prompt_set(path, column="prompt_text")


def test_no_prompt_column_says_use_column(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="--column"):
        load_prompt_set(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("set.xlsx", "x", "unknown prompt file type '.xlsx'"),
        ("set.json", '{"prompt": "x"}', "expected a JSON list"),
        ("set.json", "[1, 2]", "expected a prompt string or an object, got int"),
        ("set.jsonl", '{"prompt": 5}', "the 'prompt' field is int, not text"),
        ("set.txt", "fine\nbad \x00 prompt\n", r"set\.txt:2 contains a NUL character"),
        ("set.txt", "\n \n", "holds no prompts"),
    ],
)
def test_bad_files_are_input_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_prompt_set(path)


def test_missing_file_folder_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_prompt_set(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a folder"):
        load_prompt_set(tmp_path)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_prompt_set(latin)


def test_fingerprint_follows_the_texts_only(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.tsv", tmp_path / "c.csv"
    a.write_text("prompt,category\nx,1\ny,2\n", encoding="utf-8")
    b.write_text("Prompt\tCategory\tNote\nx\tother\t\ny\tcategories\t\n", encoding="utf-8")
    c.write_text("prompt,category\nx,1\ny!,2\n", encoding="utf-8")
    assert load_prompt_set(a).fingerprint == load_prompt_set(b).fingerprint == fingerprint(["x", "y"])
    assert load_prompt_set(c).fingerprint != load_prompt_set(a).fingerprint
    assert fingerprint(["ab", "c"]) != fingerprint(["a", "bc"])


def test_hugging_face_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset folder in the Hugging Face layout (data files that `datasets` reads), loaded by
    load_dataset exactly as a cached hub dataset; its cache goes to tmp_path."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    repo = tmp_path / "owner" / "parti-like"
    (repo / "data").mkdir(parents=True)
    rows = [{"Prompt": "a koala", "Category": "Animals"}, {"Prompt": "a tuba", "Category": "Artifacts"}]
    (repo / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    (repo / "data" / "test.jsonl").write_text(
        json.dumps({"Prompt": "held out", "Category": "x"}), encoding="utf-8"
    )
    s = load_prompt_set(f"hf:{repo}")
    assert s.texts == ["a koala", "a tuba"]
    assert dict(s.prompts[1].metadata) == {"Category": "Artifacts"}
    assert load_prompt_set(f"hf:{repo}", split="test").texts == ["held out"]
    assert load_prompt_set(f"hf:{repo}", column="Category").texts == ["Animals", "Artifacts"]


def test_hugging_face_dataset_not_cached_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError, match="HF_HUB_OFFLINE=1"):
        load_prompt_set("hf:no-such-owner/no-such-prompt-set")
    with pytest.raises(InputError, match="hf:OWNER/NAME"):
        load_prompt_set("hf:")
