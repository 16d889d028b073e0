"""Automatic arenas: one ``judgement`` row per match and judge, naming the vote or round result the
judge's decision was stored as, with its rationale.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "judgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=True),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(vote_id IS NULL) <> (round_id IS NULL)", name="ck_judgement_one_decision"),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"]),
        sa.ForeignKeyConstraint(["match_id"], ["match.id"]),
        sa.ForeignKeyConstraint(["vote_id"], ["vote.id"]),
        sa.ForeignKeyConstraint(["round_id"], ["round_result.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_id", "judge", name="uq_judgement_match_judge"),
        sa.UniqueConstraint("vote_id"),
        sa.UniqueConstraint("round_id"),
    )
    op.create_index("ix_judgement_study_judge", "judgement", ["study_id", "judge"])


def downgrade() -> None:
    op.drop_index("ix_judgement_study_judge", table_name="judgement")
    op.drop_table("judgement")
