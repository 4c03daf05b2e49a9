"""Access policy: the compound's issuer key (QR passes, gate commands), pass entry counts and
the entries counted, the flags of a decision, and each edge's clock offset.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edge") as batch_op:
        batch_op.add_column(sa.Column("clock_offset_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("clock_trusted", sa.Boolean(), nullable=True))
    with op.batch_alter_table("compound") as batch_op:
        batch_op.add_column(sa.Column("issuer_key", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("visitorpass") as batch_op:
        batch_op.add_column(
            sa.Column("entries_used", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("entry") as batch_op:
        batch_op.add_column(
            sa.Column("flags", sa.String(length=1100), nullable=False, server_default="")
        )
    op.create_table(
        "passentry",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("pass_id", sa.String(length=64), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pass_id"], ["visitorpass.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_passentry_pass_id", "passentry", ["pass_id"])


def downgrade() -> None:
    op.drop_index("ix_passentry_pass_id", table_name="passentry")
    op.drop_table("passentry")
    with op.batch_alter_table("entry") as batch_op:
        batch_op.drop_column("flags")
    with op.batch_alter_table("visitorpass") as batch_op:
        batch_op.drop_column("entries_used")
    with op.batch_alter_table("compound") as batch_op:
        batch_op.drop_column("issuer_key")
    with op.batch_alter_table("edge") as batch_op:
        batch_op.drop_column("clock_trusted")
        batch_op.drop_column("clock_offset_s")
