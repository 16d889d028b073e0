"""SQLAlchemy models. Facts (images, matches, votes, scores) are appended, never updated in place;
leaderboards and snapshots are derived from them.

A study reset bumps ``Study.epoch``: older votes stay in the table with their epoch (archived) and
leaderboards read the current epoch only.
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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from imagearena.types import Outcome, StudyKind

WINNERS = tuple(o.value for o in Outcome)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Study(Base):
    """A named experiment: the live arena, a bulk run, an A/B test, a folder-ranking session."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=StudyKind.LIVE.value)  # a types.StudyKind
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    epoch: Mapped[int] = mapped_column(Integer, default=0)  # bumped by a reset
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Model(Base):
    """A contestant: a text-to-image model (or, for the folder ranker, one image)."""

    __tablename__ = "model"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(Base):
    __tablename__ = "prompt"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    """A pair the server served. Only served matches can be voted on, once (see Vote.match_id)."""

    __tablename__ = "match"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompt.id"))
    left_image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
    right_image_id: Mapped[int] = mapped_column(ForeignKey("image.id"))
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
