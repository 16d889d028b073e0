"""Decision logs in and out of a folder ranking: an exported log replayed into a fresh database gives
the same ratings; Image Ranker's Winner,Loser CSV replays as pair decisions; exports on request."""

from __future__ import annotations

import csv
import json
import random

import pytest
from folder_files import make_folder

from imagearena.arena import folder as ranker
from imagearena.arena.database import prepare_server
from imagearena.arena.runtime import Arena
from imagearena.errors import ConflictError, InputError
from imagearena.folders.formats import read_rankings_csv
from imagearena.settings import Settings


@pytest.fixture
def arena(make_arena):
    return make_arena()


def _rank_broken(images, ranks, best4):
    pick = [k for k, r in enumerate(ranks) if r == 1]
    for i in range(4):
        for j in range(i + 1, 4):
            if best4 and len(pick) == 1 and pick[0] not in (i, j):
                continue
            w = "model_a" if ranks[i] < ranks[j] else "model_b" if ranks[i] > ranks[j] else "tie"
            yield images[i], images[j], w


def _mixed_log(names, n=60, seed=3):
    """A log of pair votes, best-of-four picks and orders, in time order."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        t = 1_700_000_000 + k * 7.25
        kind = k % 3
        if kind == 0:
            a, b = rng.sample(names, 2)
            rows.append(
                {"model_a": a, "model_b": b, "winner": rng.choice(["model_a", "model_b", "tie"]), "tstamp": t}
            )
            continue
        images = rng.sample(names, 4)
        if kind == 1:
            ranks = [2, 2, 2, 2]
            ranks[rng.randrange(4)] = 1
            round_type = "best4"
        else:
            ranks = sorted(rng.sample([1, 2, 2, 4], 4), key=lambda _: rng.random())
            round_type = "order4"
        for a, b, w in _rank_broken(images, ranks, round_type == "best4"):
            rows.append(
                {
                    "model_a": a,
                    "model_b": b,
                    "winner": w,
                    "tstamp": t,
                    "round_id": 100 + k,
                    "round_type": round_type,
                }
            )
    return rows


def _fresh_arena(tmp_path, name):
    settings = Settings(data_dir=tmp_path / f"{name}-data", db_url=f"sqlite:///{tmp_path / name}.db")
    prepare_server(settings)
    return Arena(settings)


def _ratings(arena, study):
    return [
        (
            line.image,
            round(line.mu, 9),
            round(line.sigma, 9),
            line.bt_rating and round(line.bt_rating, 6),
            line.wins,
            line.losses,
            line.ties,
            line.comparisons,
        )
        for line in ranker.ranking_lines(arena, study)
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_then_import_gives_the_same_ratings(arena, tmp_path, suffix):
    root = tmp_path / "pics"
    names = make_folder(root, 8, subfolders=2)
    study = ranker.open_folder(arena, root, round_type="order4").study
    source = tmp_path / "made.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _mixed_log(names)))
    assert ranker.import_log(arena, study, source).decisions == 60
    before = _ratings(arena, study)
    assert any(line[-1] > 0 for line in before)

    log = tmp_path / f"out{suffix}"
    written = ranker.export_log(arena, study, log)
    assert written == sum(1 for r in _mixed_log(names))
    other = _fresh_arena(tmp_path, "second")
    try:
        study2 = ranker.open_folder(other, root, round_type="order4").study
        assert study2 == study  # the same folder: the same study name in any database
        result = ranker.import_log(other, study2, log)
        assert (result.kind, result.decisions, result.skipped) == ("imagearena", 60, [])
        assert _ratings(other, study2) == before
    finally:
        other.close()


def test_rankings_csv_has_every_image_once_best_first(arena, tmp_path):
    root = tmp_path / "pics"
    names = make_folder(root, 6)
    study = ranker.open_folder(arena, root).study
    log = tmp_path / "ir.csv"
    # img00005 beats everyone; img00000 loses to everyone
    rows = [(names[5], other) for other in names[:5]] + [(other, names[0]) for other in names[1:5]]
    log.write_text("Winner,Loser\r\n" + "".join(f"{w},{lo}\r\n" for w, lo in rows))
    out = tmp_path / "exports" / "rankings.csv"
    assert ranker.export_rankings(arena, study, out) == 6
    lines = read_rankings_csv(out)
    assert [line.image for line in lines] == names  # no decisions yet: equal, by name
    assert {line.rank for line in lines} == {1}
    assert ranker.import_log(arena, study, log).decisions == 9
    ranker.export_rankings(arena, study, out)
    lines = read_rankings_csv(out)
    assert lines[0].image == names[5] and lines[-1].image == names[0]
    assert [line.rank for line in lines] == sorted(line.rank for line in lines)
    top = lines[0]
    assert (top.wins, top.losses, top.comparisons) == (5, 0, 5)
    assert top.conservative == pytest.approx(top.mu - 3 * top.sigma)
    assert top.bt_lower < top.bt_rating < top.bt_upper


def test_image_ranker_log_replays_in_order_by_file_name(arena, tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 4, subfolders=2)  # set00/img00000.png, set01/img00001.png, set00/img00002.png...
    study = ranker.open_folder(arena, root).study
    log = tmp_path / "ir.csv"
    with log.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Winner", " Loser"])
        writer.writerow(["static/images/img00000.png", "img00001.png"])
        writer.writerow(["set00/img00002.png", "img00003.png"])
        writer.writerow(["img00003.png", "gone.png"])
    result = ranker.import_log(arena, study, log)
    assert (result.kind, result.decisions) == ("image-ranker", 2)
    assert [pos for pos, _ in result.skipped] == [3] and "gone.png" in result.skipped[0][1]
    exported = tmp_path / "log.jsonl"
    ranker.export_log(arena, study, exported)
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in records] == [
        ("set00/img00000.png", "set01/img00001.png", "model_a"),
        ("set00/img00002.png", "set01/img00003.png", "model_a"),
    ]


def test_a_log_that_is_not_a_decision_log_is_refused(arena, tmp_path):
    root = tmp_path / "pics"
    make_folder(root, 2)
    study = ranker.open_folder(arena, root).study
    bad = tmp_path / "scores.csv"
    bad.write_text("Image,ELO(mu),Uncertainty(sigma),Upvotes,Downvotes\nimg00000.png,25,8,1,0\n")
    with pytest.raises(InputError, match="not a decision log"):
        ranker.import_log(arena, study, bad)


def test_copy_in_rank_order_and_sidecar_only_on_request(arena, tmp_path):
    root = tmp_path / "pics"
    names = make_folder(root, 3, subfolders=2)
    study = ranker.open_folder(arena, root).study
    log = tmp_path / "ir.csv"
    log.write_text(f"Winner,Loser\n{names[2]},{names[0]}\n{names[2]},{names[1]}\n")
    ranker.import_log(arena, study, log)
    dest = tmp_path / "ranked"
    assert ranker.copy_ranked(arena, study, dest) == 3
    copied = sorted(p.name for p in dest.iterdir())
    assert copied[0] == "0001_" + names[2].replace("/", "__")
    assert (dest / copied[0]).read_bytes() == (root / names[2]).read_bytes()
    with pytest.raises(ConflictError, match="already exists"):
        ranker.copy_ranked(arena, study, dest)
    with pytest.raises(InputError, match="inside the folder"):
        ranker.copy_ranked(arena, study, root / "ranked")
    side = tmp_path / "rankings.json"
    assert ranker.write_sidecar(arena, study, side) == 3
    payload = json.loads(side.read_text())
    assert payload["images"][0]["image"] == names[2] and payload["images"][0]["rank"] == 1


def test_a_round_whose_battles_make_no_valid_result_is_skipped(arena, tmp_path):
    root = tmp_path / "pics"
    names = make_folder(root, 4)
    study = ranker.open_folder(arena, root).study
    rows = [  # a "best4" round of six battles that is a full order: not what a best4 round can say
        {"model_a": a, "model_b": b, "winner": "model_a", "round_id": 9, "round_type": "best4"}
        for a, b in [(names[i], names[j]) for i in range(4) for j in range(i + 1, 4)]
    ]
    log = tmp_path / "bad.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = ranker.import_log(arena, study, log)
    assert result.decisions == 0 and result.skipped[0][0] == 1 and "best4" in result.skipped[0][1]
