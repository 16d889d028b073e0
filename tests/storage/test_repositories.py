"""The one rule of storage/: one repository module per table family, functions that take a Session and
never commit (the arena use case owns the transaction), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import imagearena.storage
from imagearena.errors import UnknownNameError
from imagearena.media import ImageInfo
from imagearena.storage import catalog, installation, matches, snapshots, studies, votes
from imagearena.storage.models import Image, Installation, Match, RatingSnapshot, Vote

STORAGE = Path(imagearena.storage.__file__).parent
REPOSITORIES = sorted(p for p in STORAGE.glob("*.py") if p.name not in ("__init__.py", "engine.py"))


def _count(session: Session, column: object) -> int:
    return session.scalar(select(func.count(column))) or 0


def _two_images(session: Session, name: str = "s") -> tuple[studies.StudyRow, list[Image]]:
    study = studies.create_study(session, name)
    prompt = catalog.get_or_create_prompt(session, "a cat")
    images = []
    for name, sha in (("A", "a"), ("B", "b")):
        info = ImageInfo(sha256=sha * 64, format="PNG", width=8, height=8, size_bytes=100)
        image, _ = catalog.add_image(session, study, catalog.get_or_create_model(session, name), prompt, info)
        images.append(image)
    session.commit()
    return study, images


def test_studies_are_read_by_name_in_one_module_only() -> None:
    readers = [p.name for p in REPOSITORIES if "Study.name" in p.read_text(encoding="utf-8")]
    assert readers == ["studies.py"]


def test_no_repository_function_commits_or_rolls_back() -> None:
    callers = [
        p.name for p in REPOSITORIES if re.search(r"\.(commit|rollback)\(", p.read_text(encoding="utf-8"))
    ]
    assert callers == []


def test_an_unknown_study_lists_the_existing_ones(session: Session) -> None:
    with pytest.raises(UnknownNameError, match="unknown study 'nope'; existing studies: none yet"):
        studies.get_study(session, "nope")
    studies.create_study(session, "b-study")
    studies.create_study(session, "a-study")
    with pytest.raises(UnknownNameError, match="existing studies: a-study, b-study$"):
        studies.get_study(session, "nope")


def test_a_reset_is_kept_only_when_the_caller_commits(session: Session) -> None:
    study = studies.create_study(session, "s")
    session.commit()
    assert studies.bump_epoch(session, study.id) == 1
    session.rollback()
    assert studies.get_study(session, "s").epoch == 0
    studies.bump_epoch(session, study.id)
    session.commit()
    assert studies.get_study(session, "s").epoch == 1


def test_snapshots_are_kept_only_when_the_caller_commits(session: Session) -> None:
    study, images = _two_images(session)
    snapshots.write_snapshots(session, study.id, 0, "elo", [(images[0].model_id, 1000.0, None, None, 3)])
    session.rollback()
    assert _count(session, RatingSnapshot.id) == 0


def test_the_installation_id_is_kept_only_when_the_caller_commits(session: Session) -> None:
    assert _count(session, Installation.id) == 0
    first = installation.installation_id(session)
    assert len(first) == 32
    session.rollback()
    assert _count(session, Installation.id) == 0
    kept = installation.installation_id(session)
    session.commit()
    assert installation.installation_id(session) == kept


def _match_vote(
    study: studies.StudyRow, left: Image, right: Image, winner: str, nonce: bytes
) -> matches.MatchVote:
    claims = matches.MatchClaims(
        study_id=study.id,
        epoch=0,
        prompt_id=left.prompt_id,
        left_image_id=left.id,
        right_image_id=right.id,
        model_a_id=left.model_id,
        model_b_id=right.model_id,
        issued_at=int(time.time()),
        nonce=nonce,
    )
    return matches.MatchVote(claims, winner=winner)


def test_match_votes_are_kept_only_when_the_caller_commits(session: Session) -> None:
    study, (left, right) = _two_images(session)
    item = _match_vote(study, left, right, "tie", b"n" * 12)
    assert len(matches.insert_match_votes(session, [item])) == 1
    session.rollback()
    assert (_count(session, Match.id), _count(session, Vote.id)) == (0, 0)


def test_every_vote_read_sees_one_study_with_its_model_names(session: Session) -> None:
    """Battle logs, cached-log tails and the history start from the same query: a study's votes and
    the names of their two models, never another study's votes."""
    mine, (left, right) = _two_images(session, "mine")
    other, (o_left, o_right) = _two_images(session, "other")
    items = [_match_vote(mine, left, right, w, bytes([i]) * 12) for i, w in enumerate(["model_a", "tie"])]
    items.append(_match_vote(other, o_right, o_left, "model_b", b"o" * 12))
    ids = matches.insert_match_votes(session, items)
    expected = [(ids[0], "A", "B", "model_a"), (ids[1], "A", "B", "tie")]

    logged = [(v.id, v.model_a, v.model_b, v.winner) for v in votes.iter_votes(session, mine.id, 0)]
    tail = votes.decisions_after(session, mine.id, 0)
    a, b, w, top = tail.model_a, tail.model_b, tail.winner, tail.vote_top
    history = [(h.id, h.model_a, h.model_b, h.winner) for h in votes.recent_votes(session, mine.id, 0)]
    assert logged == expected
    assert list(zip(a, b, w, strict=True)) == [e[1:] for e in expected] and top == ids[1]
    assert history == expected[::-1]
    assert [h.left_sha256 for h in votes.recent_votes(session, other.id, None)] == ["b" * 64]
