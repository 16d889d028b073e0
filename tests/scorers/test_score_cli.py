"""`imagearena score` and `imagearena scorers` end to end on tiny models: formats, ranks, ensembles,
--min-score, --write-metadata, unreadable images, --study."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import imagearena.cli  # noqa: F401  (registers the commands)
from imagearena.cli.app import app
from imagearena.errors import InputError
from imagearena.scorers import create_scorer
from imagearena.scorers.metadata import read_score

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, list(map(str, args)))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def score_clip(weights, *args, prompt="a cat"):
    """``imagearena score -s clip`` with the tiny CLIP's ``weights``, one prompt, on the CPU."""
    return run("score", "-s", "clip", "--weights", weights, "-p", prompt, "--device", "cpu", *args)


def test_json_in_input_order_with_ranks(tiny_clip, image_files, images):
    result = run(
        "score",
        "--scorer",
        "clip",
        "--weights",
        tiny_clip,
        "--prompt",
        "a photo of a cat",
        "--device",
        "cpu",
        "--format",
        "json",
        *image_files,
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["image"] for r in rows] == [str(p) for p in image_files]
    expected = create_scorer("clip", weights=str(tiny_clip), device="cpu").score("a photo of a cat", images)
    assert [r["score"] for r in rows] == pytest.approx(expected, abs=1e-4)
    assert [r["components"] for r in rows] == [{"clip": r["score"]} for r in rows]
    order = sorted(range(len(rows)), key=lambda i: -rows[i]["score"])
    assert [rows[i]["rank"] for i in order] == [1, 2, 3, 4]
    assert "Scored 4 of 4 images" in result.stderr


def test_jsonl_input_ranks_within_each_prompt_and_csv(tiny_clip, image_files, tmp_path):
    lines = [
        {"image": p.name, "prompt": "a cat" if i % 2 else "a red car"} for i, p in enumerate(image_files)
    ]
    jsonl = image_files[0].parent / "input.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = run(
        "score", "-s", "clip", "--weights", tiny_clip, "--input", jsonl, "--device", "cpu", "-f", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["image"] for r in rows] == [x["image"] for x in lines]
    for prompt in ("a cat", "a red car"):
        group = [r for r in rows if r["prompt"] == prompt]
        assert sorted(int(r["rank"]) for r in group) == [1, 2]
        best = max(group, key=lambda r: float(r["score"]))
        assert best["rank"] == "1"


def test_unreadable_images_are_reported_and_skipped(tiny_clip, image_files, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    missing = tmp_path / "missing.jpg"
    result = score_clip(tiny_clip, "-f", "json", image_files[0], broken, missing, image_files[1])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["image"] for r in rows] == [str(image_files[0]), str(image_files[1])]
    assert "broken.png" in result.stderr and "missing.jpg" in result.stderr
    assert "Scored 2 of 4 images (2 unreadable, skipped)" in result.stderr


def test_min_score_filters(tiny_clip, image_files):
    scores = sorted(r["score"] for r in json.loads(score_clip(tiny_clip, "-f", "json", *image_files).stdout))
    threshold = (scores[1] + scores[2]) / 2
    kept = json.loads(score_clip(tiny_clip, "-f", "json", "--min-score", threshold, *image_files).stdout)
    assert sorted(r["score"] for r in kept) == scores[2:]


def test_table_format_shows_components_for_ensembles(tiny_clip, tiny_aesthetic_head, image_files):
    result = run(
        "score",
        "-s",
        "clip,aesthetic",
        "--weights",
        f"clip={tiny_clip},aesthetic={tiny_aesthetic_head}",
        "--clip",
        tiny_clip,
        "-p",
        "a cat",
        "--device",
        "cpu",
        *image_files,
    )
    assert result.exit_code == 0, result.output
    assert "aesthetic" in result.stdout and "clip" in result.stdout and "Rank" in result.stdout


def test_ensemble_json_combines_batch_zscores(tiny_clip, tiny_blip, image_files):
    result = run(
        "score",
        "-s",
        "clip,blip",
        "--ensemble-weights",
        "3,1",
        "--weights",
        f"clip={tiny_clip},blip={tiny_blip}",
        "-p",
        "a cat",
        "--device",
        "cpu",
        "-f",
        "json",
        *image_files,
    )
    rows = json.loads(result.stdout)
    comps = {n: np.array([r["components"][n] for r in rows]) for n in ("clip", "blip")}
    z = {n: (v - v.mean()) / v.std(ddof=1) for n, v in comps.items()}
    assert [r["score"] for r in rows] == pytest.approx(list(0.75 * z["clip"] + 0.25 * z["blip"]), abs=1e-6)


def test_write_metadata_keeps_png_pixels_and_uses_sidecar_for_jpeg(tiny_clip, image_files, images, tmp_path):
    jpeg = tmp_path / "photo.jpg"
    images[0].save(jpeg, quality=90)
    before_png = np.asarray(Image.open(image_files[0]))
    jpeg_bytes = jpeg.read_bytes()
    score_clip(tiny_clip, "--write-metadata", "-f", "json", image_files[0], jpeg)
    after = Image.open(image_files[0])
    assert np.array_equal(np.asarray(after), before_png)
    record = json.loads(after.text["imagearena"])
    assert record["scorer"] == "clip" and record["prompt"] == "a cat" and "clip" in record["components"]
    assert jpeg.read_bytes() == jpeg_bytes
    assert read_score(jpeg)["score"] == pytest.approx(record["score"], abs=100)
    # running again replaces the record rather than adding a second chunk
    score_clip(tiny_clip, "--write-metadata", "-f", "json", image_files[0], prompt="a dog")
    data = image_files[0].read_bytes()
    assert data.count(b"iTXtimagearena") == 1 and read_score(image_files[0])["prompt"] == "a dog"


def test_bad_arguments_are_user_errors(tiny_clip, image_files, tmp_path):
    with pytest.raises(InputError, match="--prompt"):
        run("score", "-s", "clip", "--weights", tiny_clip, *image_files)
    with pytest.raises(InputError, match="exactly one"):
        run("score", "-s", "clip", "--study", "x", "-p", "a", *image_files)
    with pytest.raises(InputError, match="NAME=SRC"):
        run("score", "-s", "clip,blip", "--weights", tiny_clip, "-p", "a", *image_files)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "a.png", "prompt": "x"}\nnot json\n')
    with pytest.raises(InputError, match="bad.jsonl:2"):
        run("score", "-s", "clip", "--weights", tiny_clip, "--input", bad)


def test_cli_prints_user_errors_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "imagearena", "score", "-s", "nosuchscorer", "-p", "x", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "unknown scorer 'nosuchscorer'" in result.stderr


def test_scorers_command_lists_registry():
    rows = json.loads(run("scorers", "--format", "json").stdout)
    names = {r["name"] for r in rows}
    assert {"clip", "blip", "aesthetic", "pickscore", "hpsv2", "hpsv2.1"} <= names
    assert all(r["about"] for r in rows)


def test_study_scores_are_stored_and_not_recomputed(tiny_clip, images, tmp_path):
    from imagearena.media import MediaStore
    from imagearena.storage import catalog, scores, studies
    from imagearena.storage.engine import make_sessionmaker, open_database

    data_dir = tmp_path / "data"
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    engine = open_database(db)
    store = MediaStore(data_dir / "media")
    with make_sessionmaker(engine)() as session:
        study = studies.create_study(session, "s1", kind="bulk")
        model = catalog.get_or_create_model(session, "m1")
        prompt = catalog.get_or_create_prompt(session, "a photo of a cat")
        for i, im in enumerate(images[:3]):
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            info = store.put(buf.getvalue())
            catalog.add_image(
                session,
                study,
                model,
                prompt,
                info,
                source=f"img{i}.png",
            )
        session.commit()
    args = [
        "score",
        "-s",
        "clip",
        "--weights",
        tiny_clip,
        "--study",
        "s1",
        "--db",
        db,
        "--data-dir",
        data_dir,
        "--device",
        "cpu",
        "-f",
        "json",
    ]
    first = run(*args)
    assert len(json.loads(first.stdout)) == 3 and "Scored 3 of 3" in first.stderr
    with make_sessionmaker(engine)() as session:
        images_db = catalog.list_images(session, studies.get_study(session, "s1"))
        stored = scores.scores_for(session, images_db, "clip")
    assert sorted(stored.values()) == pytest.approx(sorted(r["score"] for r in json.loads(first.stdout)))
    second = run(*args)
    assert json.loads(second.stdout) == [] and "3 already scored" in second.stderr
    engine.dispose()


def test_study_in_a_missing_database_creates_nothing(tiny_clip, tmp_path):
    missing = tmp_path / "typo" / "x.db"
    with pytest.raises(InputError, match="imagearena db upgrade"):
        run("score", "-s", "clip", "--weights", tiny_clip, "--study", "s1", "--db", f"sqlite:///{missing}")
    assert not missing.parent.exists()


def test_table_is_not_wrapped_when_redirected(tiny_clip, image_files):
    prompt = "a photo of a cat sitting on a red car in front of the blue house under the tree, " * 2
    result = run(
        "score", "-s", "clip", "--weights", tiny_clip, "-p", prompt.strip(), "--device", "cpu", *image_files
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if str(image_files[0]) in line]
    assert len(lines) == 1 and prompt.strip() in lines[0]
