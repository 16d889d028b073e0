"""types.py is the one vocabulary: every other spelling in the package derives from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import imagearena
from imagearena.types import (
    ELO_PER_LOGIT,
    LOGIT_PER_ELO,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    Outcome,
    RatingMethod,
    RoundType,
    StudyKind,
)

SRC = Path(imagearena.__file__).resolve().parent


def test_outcome_codes_follow_the_enum_order() -> None:
    from imagearena.ratings.battles import BOTH_BAD, MODEL_A, MODEL_B, OUTCOME_CODES, OUTCOMES, TIE

    assert [o.code for o in Outcome] == [0, 1, 2, 3] == [MODEL_A, MODEL_B, TIE, BOTH_BAD]
    assert all(Outcome.from_code(o.code) is o and OUTCOMES[o.code] is o for o in Outcome)
    values = {o.value for o in Outcome}
    assert {k: v for k, v in OUTCOME_CODES.items() if k in values} == {o.value: o.code for o in Outcome}
    assert OUTCOME_CODES["tie (bothbad)"] == Outcome.BOTH_BAD.code


def test_vocabulary_values_and_labels() -> None:
    assert list(RatingMethod) == ["elo", "trueskill", "bt"]
    assert [m.label for m in RatingMethod] == ["Elo", "TrueSkill", "Bradley-Terry"]
    assert list(StudyKind) == ["live", "bulk", "ab", "folder", "demo"]
    assert list(RoundType) == ["pair", "best4", "order4"]
    assert pytest.approx(1.0) == ELO_PER_LOGIT * LOGIT_PER_ELO


def test_derived_spellings_agree_with_types() -> None:
    from imagearena import media
    from imagearena.arena import leaderboards
    from imagearena.settings import Settings
    from imagearena.storage import models, studies

    assert tuple(Outcome) == models.WINNERS
    check = next(c for c in models.Vote.__table__.constraints if c.name == "ck_vote_winner")
    assert str(check.sqltext) == "winner IN ('model_a', 'model_b', 'tie', 'both_bad')"  # as migration 0001
    assert tuple(StudyKind) == studies.STUDY_KINDS
    assert tuple(RatingMethod) == leaderboards.METHODS
    assert {m: m.label for m in RatingMethod} == leaderboards.METHOD_TITLES
    settings = Settings()
    assert (settings.max_image_bytes, settings.max_image_pixels) == (MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS)
    assert (media.DEFAULT_MAX_BYTES, media.DEFAULT_MAX_PIXELS) == (MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS)


def test_the_api_schema_lists_the_enums() -> None:
    from imagearena.web.api import StudyIn, VoteIn

    assert VoteIn.model_json_schema()["$defs"]["Outcome"]["enum"] == [o.value for o in Outcome]
    assert StudyIn.model_json_schema()["$defs"]["StudyKind"]["enum"] == [k.value for k in StudyKind]


#: Quoted values that only types.py may spell in Python code (field names such as "model_a" or a
#: study named "demo" are other words that happen to look the same, so they are not listed).
VOCABULARY = [
    *(o.value for o in Outcome if o is not Outcome.MODEL_A and o is not Outcome.MODEL_B),
    *(m.value for m in RatingMethod),
    *(m.label for m in RatingMethod),
    *(k.value for k in StudyKind if k not in (StudyKind.FOLDER, StudyKind.DEMO)),
    *(r.value for r in RoundType),
]
FROZEN = {SRC / "types.py", *(SRC / "storage" / "migrations").rglob("*.py")}


@pytest.mark.parametrize("word", VOCABULARY)
def test_no_module_spells_the_vocabulary_again(word: str) -> None:
    quoted = re.compile(rf"""(["']){re.escape(word)}\1""")
    found = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in FROZEN
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if quoted.search(line)
    ]
    assert not found, f"{word!r} is spelled outside types.py: {', '.join(found)}"
