"""Events from the edges: the receipt ledger, entries, alarms, dead letters, edges.

Revision ID: 0001
Revises: None
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("edge_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("compound_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("gate_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_occurred_at"), ["occurred_at"], unique=False)

    op.create_table(
        "deadletter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("deadletter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deadletter_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "edge",
        sa.Column("edge_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("compound_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outbox_rows", sa.Integer(), nullable=True),
        sa.Column("outbox_oldest_age_s", sa.Float(), nullable=True),
        sa.Column("outbox_refused", sa.Integer(), nullable=True),
        sa.Column("registry_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("edge_id"),
    )
    with op.batch_alter_table("edge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_edge_compound_id"), ["compound_id"], unique=False)

    op.create_table(
        "entry",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("edge_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("epoch", sa.Uuid(), nullable=False),
        sa.Column("compound_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("gate_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lane", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("credential_ref", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.create_index("entry_subject", ["subject_id", "occurred_at"], unique=False)
        batch_op.create_index("entry_time", ["occurred_at", "event_id"], unique=False)

    op.create_table(
        "receipt",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("edge_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("epoch", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("edge_id", "epoch", "seq", name="receipt_position"),
    )


def downgrade() -> None:
    op.drop_table("receipt")
    op.drop_table("entry")
    op.drop_table("edge")
    op.drop_table("deadletter")
    op.drop_table("alarm")
