"""Live studies: one ``live_settings`` row per study that generates its rounds on demand (its
generators, the per-voter limit, each generator's daily budget, the prompts a voter may draw).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_settings",
        sa.Column("study_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generators", sa.JSON(), nullable=False),
        sa.Column("voter_limit_per_hour", sa.Integer(), nullable=False),
        sa.Column("daily_budget", sa.JSON(), nullable=False),
        sa.Column("prompts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"]),
        sa.PrimaryKeyConstraint("study_id"),
    )


def downgrade() -> None:
    op.drop_table("live_settings")
