"""Temporary vehicles (临停): a stay from a visitor's or unknown plate's entry to its exit.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vehiclestay",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("entry_event_id", sa.Uuid(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_gate", sa.String(length=64), nullable=False),
        sa.Column("exit_event_id", sa.Uuid(), nullable=True),
        sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_gate", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_event_id"),
        sa.UniqueConstraint("exit_event_id"),
    )
    op.create_index("vehiclestay_open", "vehiclestay", ["compound_id", "plate", "exited_at"])


def downgrade() -> None:
    op.drop_index("vehiclestay_open", table_name="vehiclestay")
    op.drop_table("vehiclestay")
