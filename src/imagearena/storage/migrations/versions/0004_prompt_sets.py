"""Prompt sets: a named, ordered list of prompts imported from a file or a dataset.

- prompt_set: the set's name (unique), where it was imported from, and its fingerprint (a sha256
  over its prompt texts in order, as imagearena.prompts.loaders computes it: the key of its cached
  embeddings);
- prompt_set_item: one row per prompt of a set, by position, pointing at the shared ``prompt`` row
  (a text is stored once, whichever sets and images use it), with the row's other columns as JSON.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prompt_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "prompt_set_item",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["prompt_set.id"]),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        sa.PrimaryKeyConstraint("set_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("prompt_set_item")
    op.drop_table("prompt_set")
