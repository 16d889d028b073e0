"""SQLAlchemy models. Facts (images, matches, votes, scores) are appended, never updated in place;
leaderboards and snapshots are derived from them.

A study reset bumps ``Study.epoch``: older votes stay in the table with their epoch (archived) and
leaderboards read the current epoch only. A decision is a pair vote (``vote``) or a four-image round's
result (``round_result``); an undo is one more fact (``undo``) naming the decision it withdraws.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from imagearena.types import Outcome, RoundType, StudyKind

WINNERS = tuple(o.value for o in Outcome)
ROUND_TYPES = tuple(r.value for r in RoundType)
#: Round types of four-image rounds (a round_result row); pair rounds are votes.
FOUR_WAY = tuple(r.value for r in RoundType if r is not RoundType.PAIR)
#: Widest model name: a folder study's contestants are named by their path inside the folder.
MODEL_NAME_LENGTH = 1000


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Study(Base):
    """A named experiment: the live arena, a bulk run, an A/B test, a folder-ranking session."""

    __tablename__ = "study"
    # migration 0003 spells this constraint out: a migration is a frozen snapshot of history
    __table_args__ = (CheckConstraint(_in("round_type", ROUND_TYPES), name="ck_study_round_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=StudyKind.LIVE.value)  # a types.StudyKind
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    epoch: Mapped[int] = mapped_column(Integer, default=0)  # bumped by a reset
    round_type: Mapped[str] = mapped_column(  # a types.RoundType
        String(10), default=RoundType.PAIR.value, server_default=RoundType.PAIR.value
    )
    source: Mapped[str] = mapped_column(Text, default="", server_default="")  # a folder study's folder
    # the stored prompt set attached to the study (migration 0007)
    prompt_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_set.id", name="fk_study_prompt_set_id_prompt_set"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Model(Base):
    """A contestant: a text-to-image model (or, for the folder ranker, one image).

    Global models (``study_id`` NULL) are shared by every study and have unique names; a contestant
    owned by one study (a folder study's image) is unique by name within that study only.
    """

    __tablename__ = "model"
    __table_args__ = (
        Index(
            "uq_model_global_name",
            "name",
            unique=True,
            sqlite_where=text("study_id IS NULL"),
            postgresql_where=text("study_id IS NULL"),
        ),
        Index(
            "uq_model_study_name",
            "study_id",
            "name",
            unique=True,
            sqlite_where=text("study_id IS NOT NULL"),
            postgresql_where=text("study_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MODEL_NAME_LENGTH))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("study.id"), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(Base):
    __tablename__ = "prompt"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromptSet(Base):
    """A named, ordered list of prompts imported from a file or a dataset. ``fingerprint`` hashes the
    prompt texts in order (imagearena.prompts.loaders.fingerprint): the key of its cached embeddings."""

    __tablename__ = "prompt_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromptSetItem(Base):
    """One prompt of a set, at its position, with its row's other columns (category, challenge...)."""

    __tablename__ = "prompt_set_item"

    set_id: Mapped[int] = mapped_column(ForeignKey("prompt_set.id"), primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id"))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Image(Base):
    """An image bound to its model and prompt when it is created or imported, never by display order."""

    __tablename__ = "image"
    __table_args__ = (
        UniqueConstraint("study_id", "model_id", "prompt_id", "sha256", name="uq_image_identity"),
        Index("ix_image_study_prompt", "study_id", "prompt_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # content address in the media store
    format: Mapped[str] = mapped_column(String(10))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, default="")  # original path or generator spec
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When a folder study's file was last found gone (NULL: present). Presence in a folder is current
    # state, not history: it is set and cleared as rescans see the file go and come back.
    missing_since: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    model: Mapped[Model] = relationship(lazy="joined")
    prompt: Mapped[Prompt] = relationship(lazy="joined")


class Score(Base):
    """An automatic preference score of one image by one scorer."""

    __tablename__ = "score"
    __table_args__ = (UniqueConstraint("image_id", "scorer", name="uq_score_image_scorer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id"), index=True)
    scorer: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Match(Base):
    """A round the server served, its images in display order: left and right for a pair; left, right,
    image_3 and image_4 for a four-image round. Only served matches can be voted on, once (see
    Vote.match_id and RoundResult.match_id)."""

    __tablename__ = "match"
    __table_args__ = (
        CheckConstraint("(image_3_id IS NULL) = (image_4_id IS NULL)", name="ck_match_four_images"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id"))
    left_image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    right_image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    image_3_id: Mapped[int | None] = mapped_column(ForeignKey("image.id"), nullable=True)
    image_4_id: Mapped[int | None] = mapped_column(ForeignKey("image.id"), nullable=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)  # signed into the one-time token
    voter: Mapped[str] = mapped_column(String(100), default="")
    served_at: Mapped[datetime] = mapped_column(default=utcnow)

    left_image: Mapped[Image] = relationship(foreign_keys=[left_image_id], lazy="joined")
    right_image: Mapped[Image] = relationship(foreign_keys=[right_image_id], lazy="joined")


class Vote(Base):
    """One judgement of one match. model_a is the left image's model. Never updated or deleted."""

    __tablename__ = "vote"
    __table_args__ = (
        # migration 0001 spells this constraint out: a migration is a frozen snapshot of history
        CheckConstraint(f"winner IN ({', '.join(repr(w) for w in WINNERS)})", name="ck_vote_winner"),
        CheckConstraint("model_a_id <> model_b_id", name="ck_vote_distinct_models"),
        Index("ix_vote_study_epoch_tstamp", "study_id", "epoch", "tstamp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id"), unique=True, nullable=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    model_a_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    model_b_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompt.id"), nullable=True)
    winner: Mapped[str] = mapped_column(String(10))
    judge: Mapped[str] = mapped_column(String(100), default="human")  # "human" or a scorer name
    voter: Mapped[str] = mapped_column(String(100), default="")
    tstamp: Mapped[datetime] = mapped_column(default=utcnow)

    model_a: Mapped[Model] = relationship(foreign_keys=[model_a_id], lazy="joined")
    model_b: Mapped[Model] = relationship(foreign_keys=[model_b_id], lazy="joined")


class RoundResult(Base):
    """The result of one four-image round: its four models in display order and their ranks (1 = best,
    equal ranks tie; competition ranks, so [1, 2, 2, 4]). Never updated or deleted."""

    __tablename__ = "round_result"
    __table_args__ = (
        CheckConstraint(_in("round_type", FOUR_WAY), name="ck_round_result_round_type"),
        CheckConstraint(
            " AND ".join(f"rank_{i} BETWEEN 1 AND 4" for i in range(1, 5)), name="ck_round_result_ranks"
        ),
        Index("ix_round_result_study_epoch_tstamp", "study_id", "epoch", "tstamp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id"), unique=True, nullable=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    round_type: Mapped[str] = mapped_column(String(10))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompt.id"), nullable=True)
    model_1_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    model_2_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    model_3_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    model_4_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    rank_1: Mapped[int] = mapped_column(Integer)
    rank_2: Mapped[int] = mapped_column(Integer)
    rank_3: Mapped[int] = mapped_column(Integer)
    rank_4: Mapped[int] = mapped_column(Integer)
    judge: Mapped[str] = mapped_column(String(100), default="human")
    voter: Mapped[str] = mapped_column(String(100), default="")
    tstamp: Mapped[datetime] = mapped_column(default=utcnow)


class Undo(Base):
    """The withdrawal of one decision (a vote or a round result), appended: the decision stays in its
    table and every reader skips it. A decision is undone at most once (the unique columns)."""

    __tablename__ = "undo"
    __table_args__ = (
        CheckConstraint("(vote_id IS NULL) <> (round_id IS NULL)", name="ck_undo_one_decision"),
        Index("ix_undo_study_id", "study_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("vote.id"), unique=True, nullable=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("round_result.id"), unique=True, nullable=True)
    voter: Mapped[str] = mapped_column(String(100), default="")
    tstamp: Mapped[datetime] = mapped_column(default=utcnow)


class RatingSnapshot(Base):
    """A leaderboard line at a moment: the history behind rating-over-time charts."""

    __tablename__ = "rating_snapshot"
    __table_args__ = (Index("ix_snapshot_study_method_at", "study_id", "method", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    method: Mapped[str] = mapped_column(String(20))  # elo | trueskill | bt
    rating: Mapped[float] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper: Mapped[float | None] = mapped_column(Float, nullable=True)
    votes: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Installation(Base):
    """One row (id 1): a random id of this database, created on first use. Match tokens are bound to it,
    so two installations that share a secret key (one data dir used with two databases) refuse each
    other's tokens."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveSettings(Base):
    """A live study's admin settings: the generator entries its rounds are made by (names in the
    generators file), the live rounds one voter may start per hour (0: no limit), each generator's daily
    budget in images (a missing name: no limit) and the prompts a voter may draw instead of typing one.
    Settings, not facts: one row per study, changed in place."""

    __tablename__ = "live_settings"

    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), primary_key=True, autoincrement=False)
    generators: Mapped[list[str]] = mapped_column(JSON, default=list)
    voter_limit_per_hour: Mapped[int] = mapped_column(Integer, default=0)
    daily_budget: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prompts: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Judgement(Base):
    """An automatic judge's decision on a match people decided: the vote or round result it was stored
    as (``judge`` = the judge's name, ``match_id`` NULL there, as a match's own decision is the human
    one) and the judge's rationale. One per match and judge, so judging a study again judges only the
    matches that are new."""

    __tablename__ = "judgement"
    __table_args__ = (
        UniqueConstraint("match_id", "judge", name="uq_judgement_match_judge"),
        CheckConstraint("(vote_id IS NULL) <> (round_id IS NULL)", name="ck_judgement_one_decision"),
        Index("ix_judgement_study_judge", "study_id", "judge"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    match_id: Mapped[int] = mapped_column(ForeignKey("match.id"))
    judge: Mapped[str] = mapped_column(String(100))
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("vote.id"), unique=True, nullable=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("round_result.id"), unique=True, nullable=True)
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
