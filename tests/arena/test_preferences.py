"""Preference exports read back with ``datasets``: Pick-a-Pic v2 columns (labels, uids, ties at 0.5,
both_bad left out unless asked for), TRL chosen/rejected images, and the ImageReward test.json
rankings, images embedded or named by path; what people undid and what automatic judges decided never
appear."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from seeding import PROMPTS, STUDY, seed_study
from test_agreement_study import FOUR, FOUR_MODELS, claims

from imagearena.arena.preferences import export_preferences
from imagearena.errors import InputError, UnknownNameError

datasets = pytest.importorskip("datasets")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# (left, right, prompt, winner, voter)
PAIRS = [
    ("alpha", "beta", PROMPTS[0], "model_a", "v1"),
    ("gamma", "alpha", PROMPTS[1], "model_b", "v2"),
    ("beta", "gamma", PROMPTS[2], "tie", "v1"),
    ("alpha", "gamma", PROMPTS[3], "both_bad", "v3"),
    ("beta", "alpha", PROMPTS[3], "model_a", "v1"),  # undone below
]


@pytest.fixture
def voted(arena):
    from imagearena.media import MediaStore
    from imagearena.storage.matches import MatchVote, insert_match_votes, insert_undo

    with arena.session() as s:
        seed_study(s, MediaStore(arena.settings.media_dir), FOUR, FOUR_MODELS, PROMPTS[:1])
        items = [
            MatchVote(claims(s, STUDY, (a, b), p, bytes([k]) * 12), winner=w, voter=v)
            for k, (a, b, p, w, v) in enumerate(PAIRS)
        ]
        items.append(
            MatchVote(claims(s, STUDY, ("beta", "gamma"), PROMPTS[0], b"j" * 12), "model_a", judge="clip")
        )
        items.append(
            MatchVote(claims(s, FOUR, FOUR_MODELS, PROMPTS[0], b"r" * 12), "", "v1", ranks=(2, 1, 4, 2))
        )
        insert_match_votes(s, items)
        insert_undo(s, (bytes([len(PAIRS) - 1]) * 12).hex())
        s.commit()
    return arena


def load(path) -> list[dict]:
    return list(datasets.load_dataset("parquet", data_files=str(path), split="train"))


def colour(data: bytes) -> tuple[int, ...]:
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0))


def seeded_colour(model: str, prompt: str, study: str = STUDY) -> tuple[int, int, int]:
    """The colour seeding.seed_study gives the image of (model, prompt)."""
    models = FOUR_MODELS if study == FOUR else ("alpha", "beta", "gamma")
    return (40 * models.index(model), 50 * PROMPTS.index(prompt), len(study) * 7 % 255)


@sqlite_only
def test_pickapic_embedded(voted, tmp_path):
    result = export_preferences(voted, STUDY, "pickapic", tmp_path / "out")
    rows = load(result.path)
    assert (result.rows, result.decisions, result.skipped) == (3, 4, 1)
    assert [(r["model_0"], r["model_1"], r["label_0"], r["label_1"]) for r in rows] == [
        ("alpha", "beta", 1.0, 0.0),
        ("gamma", "alpha", 0.0, 1.0),
        ("beta", "gamma", 0.5, 0.5),
    ]
    first, second, tie = rows
    assert first["caption"] == PROMPTS[0] and first["user_id"] == "v1" and first["has_label"]
    assert colour(first["jpg_0"]) == seeded_colour("alpha", PROMPTS[0])
    assert colour(first["jpg_1"]) == seeded_colour("beta", PROMPTS[0])
    assert first["best_image_uid"] == first["image_0_uid"] and len(first["image_0_uid"]) == 64
    assert second["best_image_uid"] == second["image_1_uid"]
    assert tie["best_image_uid"] == "" and all(r["are_different"] for r in rows)
    assert first["created_at"].tzinfo is not None


@sqlite_only
def test_pickapic_both_bad_when_asked_and_paths(voted, tmp_path):
    result = export_preferences(voted, STUDY, "pickapic", tmp_path, images="path", include_both_bad=True)
    rows = load(result.path)
    assert len(rows) == 4 and result.skipped == 0
    bad = rows[3]
    assert (bad["label_0"], bad["label_1"], bad["has_label"]) == (0.5, 0.5, False)
    assert colour(Path(bad["jpg_0"]).read_bytes()) == seeded_colour("alpha", PROMPTS[3])


@sqlite_only
def test_pickapic_four_image_round_is_rank_broken(voted, tmp_path):
    rows = load(export_preferences(voted, FOUR, "pickapic", tmp_path).path)
    # order4 ranks (2, 1, 4, 2): m2 first, m1 and m4 tied, m3 last: all 6 pairs, one round id
    assert len(rows) == 6 and len({r["ranking_id"] for r in rows}) == 1 and rows[0]["ranking_id"] < 0
    labels = {(r["model_0"], r["model_1"]): r["label_0"] for r in rows}
    assert labels == {
        ("m1", "m2"): 0.0,
        ("m1", "m3"): 1.0,
        ("m1", "m4"): 0.5,
        ("m2", "m3"): 1.0,
        ("m2", "m4"): 1.0,
        ("m3", "m4"): 0.0,
    }


@sqlite_only
@pytest.mark.parametrize("images", ["embed", "path"])
def test_trl(voted, tmp_path, images):
    result = export_preferences(voted, STUDY, "trl", tmp_path, images=images)
    ds = datasets.load_dataset("parquet", data_files=str(result.path), split="train")
    assert ds.features["chosen"].__class__.__name__ == "Image"
    rows = list(ds)
    assert [r["prompt"] for r in rows] == [PROMPTS[0], PROMPTS[1]]  # the tie has no chosen image
    for row, (win, lose) in zip(rows, [("alpha", "beta"), ("alpha", "gamma")], strict=True):
        assert row["chosen"].convert("RGB").getpixel((0, 0)) == seeded_colour(win, row["prompt"])
        assert row["rejected"].convert("RGB").getpixel((0, 0)) == seeded_colour(lose, row["prompt"])
        assert len(row["images"]) == 2


@sqlite_only
@pytest.mark.parametrize("images", ["embed", "path"])
def test_rankings(voted, tmp_path, images):
    from imagearena.arena.agreement import read_rankings

    result = export_preferences(voted, FOUR, "rankings", tmp_path, images=images)
    items = json.loads(result.path.read_text())
    (item,) = items
    assert item["ranking"] == [2, 1, 4, 2] and item["models"] == list(FOUR_MODELS)
    for model, generation in zip(FOUR_MODELS, item["generations"], strict=True):
        file = tmp_path / generation if images == "embed" else generation
        assert colour(Path(file).read_bytes()) == seeded_colour(model, PROMPTS[0], FOUR)
    assert read_rankings(result.path)[0].ranking == (2.0, 1.0, 4.0, 2.0)
    pairs = json.loads(export_preferences(voted, STUDY, "rankings", tmp_path / "p").path.read_text())
    assert [i["ranking"] for i in pairs] == [[1, 2], [2, 1], [1, 1]]


@sqlite_only
def test_many_row_groups_and_bad_arguments(voted, tmp_path):
    result = export_preferences(voted, STUDY, "pickapic", tmp_path, rows_per_group=1)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(result.path).metadata.num_row_groups == 3
    with pytest.raises(InputError):
        export_preferences(voted, STUDY, "csv", tmp_path)
    with pytest.raises(UnknownNameError):
        export_preferences(voted, "nope", "trl", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_folder_study_images_come_from_the_folder(make_arena, make_client, tmp_path):
    """A folder study's images live in its folder: the export names or copies those files, and a judge
    reads them there."""
    from folder_files import make_folder

    from imagearena.arena import folder as ranker
    from imagearena.arena.judging import judge_study
    from imagearena.judges import Verdict

    arena = make_arena()
    client = make_client(arena)
    root = tmp_path / "pics"
    make_folder(root, 3)
    study = ranker.open_folder(arena, root).study
    match = client.post(f"/api/v1/studies/{study}/matches").json()
    vote = client.post("/api/v1/votes", json={"token": match["token"], "winner": "model_b"}).json()
    items = json.loads(
        export_preferences(arena, study, "rankings", tmp_path / "r", images="path").path.read_text()
    )
    (item,) = items
    assert item["ranking"] == [2, 1] and item["models"] == vote["models"]
    assert [Path(g).resolve() for g in item["generations"]] == [(root / m).resolve() for m in vote["models"]]
    embedded = json.loads(export_preferences(arena, study, "rankings", tmp_path / "e").path.read_text())
    copied = [(tmp_path / "e" / g).read_bytes() for g in embedded[0]["generations"]]
    assert copied == [(root / m).read_bytes() for m in vote["models"]]

    class Sizes:
        name = "sizes"
        seen: list[bytes] = []

        def judge(self, prompt, images):
            self.seen.extend(image.load() for image in images)
            return Verdict((1, 2))

    judge = Sizes()
    assert judge_study(arena, study, judge).judged == 1
    assert judge.seen == [(root / m).read_bytes() for m in vote["models"]]
