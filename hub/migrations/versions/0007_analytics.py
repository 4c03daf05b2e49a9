"""Analytics: anomalies with evidence and actions, incidents, work orders.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "anomaly",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("compound_id", 64),
        _text("rule", 32),
        _text("key", 200),
        _text("subject", 64, nullable=True),
        _text("summary", 500),
        _when("first_at"),
        _when("last_at"),
        _text("status", 16),
        _text("assignee", 64, nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("compound_id", "rule", "key", name="anomaly_finding"),
    )
    op.create_index("anomaly_status", "anomaly", ["compound_id", "status", "last_at"])
    op.create_table(
        "anomalyevidence",
        sa.Column("anomaly_id", sa.Integer(), nullable=False),
        _text("ref", 64),
        sa.ForeignKeyConstraint(["anomaly_id"], ["anomaly.id"]),
        sa.PrimaryKeyConstraint("anomaly_id", "ref"),
    )
    op.create_table(
        "anomalyaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("anomaly_id", sa.Integer(), nullable=False),
        _text("actor", 64),
        _text("action", 16),
        _text("status", 16),
        _text("assignee", 64, nullable=True),
        _text("reason", 500),
        _when("at"),
        sa.ForeignKeyConstraint(["anomaly_id"], ["anomaly.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_anomalyaction_anomaly_id", "anomalyaction", ["anomaly_id"])
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("compound_id", 64),
        _text("category", 16),
        _when("occurred_at"),
        _text("summary", 1000),
        _text("recorded_by", 64),
        _when("recorded_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_compound_id", "incident", ["compound_id"])
    op.create_index("ix_incident_occurred_at", "incident", ["occurred_at"])
    op.create_table(
        "workorder",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("compound_id", 64),
        _text("category", 32),
        _text("description", 1000),
        _text("reported_by", 64),
        _when("reported_at"),
        _when("due_at"),
        _text("owner", 64, nullable=True),
        _text("status", 16),
        _when("responded_at", nullable=True),
        _when("closed_at", nullable=True),
        _text("note", 1000, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workorder_compound_id", "workorder", ["compound_id"])


def downgrade() -> None:
    op.drop_index("ix_workorder_compound_id", table_name="workorder")
    op.drop_table("workorder")
    op.drop_index("ix_incident_occurred_at", table_name="incident")
    op.drop_index("ix_incident_compound_id", table_name="incident")
    op.drop_table("incident")
    op.drop_index("ix_anomalyaction_anomaly_id", table_name="anomalyaction")
    op.drop_table("anomalyaction")
    op.drop_table("anomalyevidence")
    op.drop_index("anomaly_status", table_name="anomaly")
    op.drop_table("anomaly")
