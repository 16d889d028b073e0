"""Prompt sets attached to studies: ``study.prompt_set_id`` (nullable), the stored set a study's prompts
come from (a bulk run's ``--prompts``, a live study's prompts to draw from).

SQLite alters a table by copying it (Alembic batch mode), as 0003 does.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("prompt_set_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_study_prompt_set_id_prompt_set", "prompt_set", ["prompt_set_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.drop_constraint("fk_study_prompt_set_id_prompt_set", type_="foreignkey")
        batch.drop_column("prompt_set_id")
