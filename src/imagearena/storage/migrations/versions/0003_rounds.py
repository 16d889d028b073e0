"""Four-image rounds, undo and folder studies.

- study: ``round_type`` (pair | best4 | order4) and ``source`` (a folder study's folder);
- model: ``study_id`` (a contestant owned by one study), names up to 1000 characters, unique among
  global models and per owning study (two partial unique indexes instead of UNIQUE(name));
- image: ``missing_since`` (a folder study's file found gone);
- match: ``image_3_id`` and ``image_4_id`` (a four-image round's images, in display order after left
  and right);
- round_result: one row per four-image round's result, its models and ranks in display order;
- undo: one row per withdrawn decision.

SQLite alters a table by copying it (Alembic batch mode), with foreign keys off and checked at the
end (migrations/env.py).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNNAMED = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _drop_unique_name() -> None:
    """Drop UNIQUE(model.name), unnamed in 0001: PostgreSQL named it model_name_key; on SQLite the
    batch copy names it by the convention above."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("model", naming_convention=_UNNAMED) as batch:
            batch.drop_constraint("uq_model_name", type_="unique")
    else:
        op.drop_constraint("model_name_key", "model", type_="unique")


def upgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("round_type", sa.String(length=10), nullable=False, server_default="pair"))
        batch.add_column(sa.Column("source", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("study") as batch:  # a check on columns added in the same batch can make
        # the batch copy fail to order its columns (CircularDependencyError): add it in a batch of its own
        batch.create_check_constraint("ck_study_round_type", "round_type IN ('pair', 'best4', 'order4')")

    _drop_unique_name()
    with op.batch_alter_table("model") as batch:
        batch.add_column(sa.Column("study_id", sa.Integer(), nullable=True))
        batch.alter_column("name", type_=sa.String(length=1000), existing_nullable=False)
        batch.create_foreign_key("fk_model_study_id_study", "study", ["study_id"], ["id"])
    op.create_index(
        "uq_model_global_name",
        "model",
        ["name"],
        unique=True,
        sqlite_where=sa.text("study_id IS NULL"),
        postgresql_where=sa.text("study_id IS NULL"),
    )
    op.create_index(
        "uq_model_study_name",
        "model",
        ["study_id", "name"],
        unique=True,
        sqlite_where=sa.text("study_id IS NOT NULL"),
        postgresql_where=sa.text("study_id IS NOT NULL"),
    )

    with op.batch_alter_table("image") as batch:
        batch.add_column(sa.Column("missing_since", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("match") as batch:
        batch.add_column(sa.Column("image_3_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("image_4_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_match_image_3_id_image", "image", ["image_3_id"], ["id"])
        batch.create_foreign_key("fk_match_image_4_id_image", "image", ["image_4_id"], ["id"])
    with op.batch_alter_table("match") as batch:
        batch.create_check_constraint("ck_match_four_images", "(image_3_id IS NULL) = (image_4_id IS NULL)")

    op.create_table(
        "round_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("round_type", sa.String(length=10), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=True),
        *(sa.Column(f"model_{i}_id", sa.Integer(), nullable=False) for i in range(1, 5)),
        *(sa.Column(f"rank_{i}", sa.Integer(), nullable=False) for i in range(1, 5)),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("voter", sa.String(length=100), nullable=False),
        sa.Column("tstamp", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("round_type IN ('best4', 'order4')", name="ck_round_result_round_type"),
        sa.CheckConstraint(
            "rank_1 BETWEEN 1 AND 4 AND rank_2 BETWEEN 1 AND 4 AND rank_3 BETWEEN 1 AND 4 "
            "AND rank_4 BETWEEN 1 AND 4",
            name="ck_round_result_ranks",
        ),
        sa.ForeignKeyConstraint(["match_id"], ["match.id"]),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"]),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        *(sa.ForeignKeyConstraint([f"model_{i}_id"], ["model.id"]) for i in range(1, 5)),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_id"),
    )
    op.create_index("ix_round_result_study_epoch_tstamp", "round_result", ["study_id", "epoch", "tstamp"])

    op.create_table(
        "undo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=True),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("voter", sa.String(length=100), nullable=False),
        sa.Column("tstamp", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(vote_id IS NULL) <> (round_id IS NULL)", name="ck_undo_one_decision"),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"]),
        sa.ForeignKeyConstraint(["vote_id"], ["vote.id"]),
        sa.ForeignKeyConstraint(["round_id"], ["round_result.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vote_id"),
        sa.UniqueConstraint("round_id"),
    )
    op.create_index("ix_undo_study_id", "undo", ["study_id", "id"])


def downgrade() -> None:
    """Back to 0002. Four-image results, undos and study-owned contestants have no place there: the
    downgrade refuses a database that holds any, rather than dropping decisions."""
    bind = op.get_bind()
    held = bind.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM round_result) + (SELECT count(*) FROM undo) "
            "+ (SELECT count(*) FROM model WHERE study_id IS NOT NULL)"
        )
    ).scalar()
    if held:
        raise RuntimeError(
            "this database holds four-image results, undos or folder-study contestants, which schema "
            "0002 cannot hold: back it up and keep it at 0003"
        )
    op.drop_index("ix_undo_study_id", table_name="undo")
    op.drop_table("undo")
    op.drop_index("ix_round_result_study_epoch_tstamp", table_name="round_result")
    op.drop_table("round_result")
    with op.batch_alter_table("match") as batch:
        batch.drop_constraint("ck_match_four_images", type_="check")
        batch.drop_constraint("fk_match_image_4_id_image", type_="foreignkey")
        batch.drop_constraint("fk_match_image_3_id_image", type_="foreignkey")
        batch.drop_column("image_4_id")
        batch.drop_column("image_3_id")
    with op.batch_alter_table("image") as batch:
        batch.drop_column("missing_since")
    op.drop_index("uq_model_study_name", table_name="model")
    op.drop_index("uq_model_global_name", table_name="model")
    with op.batch_alter_table("model") as batch:
        batch.drop_constraint("fk_model_study_id_study", type_="foreignkey")
        batch.drop_column("study_id")
        batch.alter_column("name", type_=sa.String(length=200), existing_nullable=False)
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("model") as batch:
            batch.create_unique_constraint("uq_model_name", ["name"])
    else:
        op.create_unique_constraint("model_name_key", "model", ["name"])
    with op.batch_alter_table("study") as batch:
        batch.drop_constraint("ck_study_round_type", type_="check")
        batch.drop_column("source")
        batch.drop_column("round_type")
