"""`imagearena studies` through the real CLI on SQLite and PostgreSQL: an empty database says how to make
a study; after the demo, a folder import and an attached prompt set, the rows (kind, round type, human
decisions, models, prompt set, created time) in the table and in JSON; an automatic judge's decisions
and undone votes are not counted; a missing database is not created."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cli_process import imagearena
from folder_files import image_bytes

from imagearena.arena.demo_data import DEMO_STUDY, create_demo
from imagearena.arena.folder import open_folder
from imagearena.arena.judging import judge_study
from imagearena.arena.runtime import Arena
from imagearena.judges import JudgeImage, Verdict
from imagearena.types import RoundType, StudyKind


class LeftJudge:
    """An automatic judge that always prefers the left image."""

    name = "left"

    def judge(self, prompt: str, images: Sequence[JudgeImage]) -> Verdict:
        return Verdict(tuple(range(1, len(images) + 1)))


def vote_in_demo(settings, decisions: int, undone: int) -> None:
    """``decisions`` human pair votes in the demo study (models of the first prompt, in turn), the last
    ``undone`` of them undone."""
    from imagearena.storage import catalog, studies
    from imagearena.storage.engine import make_engine, make_sessionmaker
    from imagearena.storage.matches import MatchClaims, MatchVote, insert_match_votes, insert_undo

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as s:
            row = studies.get_study(s, DEMO_STUDY)
            images = catalog.list_images(s, row)
            prompt = images[0].prompt_id
            shown = [i for i in images if i.prompt_id == prompt]
            items = []
            for k in range(decisions):
                left, right = shown[k % len(shown)], shown[(k + 1) % len(shown)]
                claims = MatchClaims(
                    study_id=row.id,
                    epoch=row.epoch,
                    prompt_id=prompt,
                    left_image_id=left.id,
                    right_image_id=right.id,
                    model_a_id=left.model_id,
                    model_b_id=right.model_id,
                    issued_at=int(time.time()),
                    nonce=bytes([k]) * 12,
                    round_type=RoundType.PAIR,
                    image_3_id=0,
                    image_4_id=0,
                    model_3_id=0,
                    model_4_id=0,
                )
                items.append(MatchVote(claims, winner="model_a", voter="v1"))
            insert_match_votes(s, items)
            for k in range(decisions - undone, decisions):
                insert_undo(s, (bytes([k]) * 12).hex())
            s.commit()
    finally:
        engine.dispose()


def make_folder(root: Path) -> Path:
    """Four models, two prompts (``<image>.txt`` sidecars): 8 images."""
    for m, model in enumerate(("m1", "m2", "m3", "m4")):
        for p, prompt in enumerate(("a red cube", "a blue ball")):
            (root / model).mkdir(parents=True, exist_ok=True)
            (root / model / f"p{p}.png").write_bytes(image_bytes(colour=(40 * m, 90 * p, 7)))
            (root / model / f"p{p}.txt").write_text(prompt, encoding="utf-8")
    return root


def test_studies_lists_kind_round_decisions_models_prompt_set_and_time(settings, tmp_path: Path) -> None:
    db = ("--db", settings.database_url, "--data-dir", str(settings.data_dir))
    empty = imagearena("studies", *db, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("No studies in ")
    for how in ("imagearena demo", "imagearena import-folder", "imagearena rank-folder"):
        assert how in empty.stdout
    assert json.loads(imagearena("studies", *db, "--format", "json", cwd=tmp_path).stdout) == []

    before = datetime.now(UTC).replace(microsecond=0)
    create_demo(settings, size=32)
    vote_in_demo(settings, decisions=5, undone=1)
    ranked = tmp_path / "ranked"
    ranked.mkdir()
    for k in range(5):
        (ranked / f"img{k}.png").write_bytes(image_bytes(colour=(50 * k, 20, 20)))
    arena = Arena(settings)
    try:
        assert judge_study(arena, DEMO_STUDY, LeftJudge()).judged == 4  # stored as votes, judge "left"
        folder_study = open_folder(arena, ranked, round_type=RoundType.BEST4).study  # as rank-folder does
    finally:
        arena.close()
    folder = make_folder(tmp_path / "shots")
    done = imagearena(
        "import-folder", str(folder), "--study", "shots", "--round-type", "order4", *db, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    prompts = tmp_path / "cities.txt"
    prompts.write_text("a city at night\na city at noon\na city in fog\n", encoding="utf-8")
    attached = imagearena("prompts", "attach", str(prompts), "--study", DEMO_STUDY, *db, cwd=tmp_path)
    assert attached.returncode == 0, attached.stderr

    result = imagearena("studies", *db, "-f", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {DEMO_STUDY, "shots", folder_study}
    for row in rows.values():
        assert set(row) == {"name", "kind", "round_type", "decisions", "models", "prompt_set", "created_at"}
        created = datetime.fromisoformat(row["created_at"])
        assert before <= created <= datetime.now(UTC)
    demo, shots = rows[DEMO_STUDY], rows["shots"]
    assert (demo["kind"], demo["round_type"], demo["decisions"], demo["models"]) == ("demo", "pair", 4, 4)
    assert demo["prompt_set"] == "cities"
    assert (shots["kind"], shots["round_type"], shots["decisions"], shots["models"]) == (
        StudyKind.LIVE,
        RoundType.ORDER4,
        0,
        4,
    )
    assert shots["prompt_set"] is None
    ranking = rows[folder_study]
    assert (ranking["kind"], ranking["round_type"], ranking["decisions"]) == (
        StudyKind.FOLDER,
        RoundType.BEST4,
        0,
    )
    assert ranking["models"] == 5  # a folder ranking's contestants are its images
    assert ranking["prompt_set"] is None

    table = imagearena("studies", *db, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if line.count("│") > 2}
    cells = [c.strip() for c in lines[DEMO_STUDY].split("│")[1:-1]]
    assert cells[:6] == [DEMO_STUDY, "demo", "pair", "4", "4", "cities"]
    assert cells[6] == datetime.fromisoformat(demo["created_at"]).strftime("%Y-%m-%d %H:%M")
    cells = [c.strip() for c in lines["shots"].split("│")[1:-1]]
    assert cells[:6] == ["shots", "live", "order4", "0", "4", ""]


def test_studies_on_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = imagearena("studies", "--data-dir", str(data), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No studies in sqlite:///") and "imagearena demo" in result.stdout
    assert not data.exists()
