"""Events keep their edge's own time beside the one the hub counts them at, and a compound
its in-service date (no event can be dated before it).

Existing compounds are taken to have been in service since their first stored event (or,
with none yet, since 2000: an edge's backlog from before the upgrade still counts). Events
already stored more than a day ahead of now (a far-dated event made every page fail) are
counted at the time the hub received them (or now, without a receipt), their own time kept,
and left out of occupancy and analytics, as the hub does from now on (hub/event_time.py).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HARD_AHEAD = timedelta(days=1)


def upgrade() -> None:
    stamp = sa.DateTime(timezone=True)
    with op.batch_alter_table("entry") as batch:
        batch.add_column(sa.Column("reported_at", stamp, nullable=True))
        batch.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("alarm") as batch:
        batch.add_column(sa.Column("reported_at", stamp, nullable=True))
    with op.batch_alter_table("compound") as batch:
        batch.add_column(sa.Column("in_service_since", stamp, nullable=True))
    now = datetime.now(UTC)
    _retime_far_dated(now + HARD_AHEAD)  # first: a compound is not dated by such an entry
    _date_compounds()
    with op.batch_alter_table("compound") as batch:
        batch.alter_column("in_service_since", existing_type=stamp, nullable=False)


def _date_compounds() -> None:
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE compound SET in_service_since = COALESCE("
            " (SELECT MIN(occurred_at) FROM entry WHERE entry.compound_id = compound.id),"
            " :start)"
        ),
        {"start": datetime(2000, 1, 1, tzinfo=UTC)},
    )


def _retime_far_dated(limit: datetime) -> None:
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE entry SET reported_at = occurred_at, counted = :false,"
            " flags = TRIM(flags || ' time_out_of_bounds'),"
            " occurred_at = COALESCE((SELECT received_at FROM receipt"
            "  WHERE receipt.event_id = entry.event_id), :now)"
            " WHERE occurred_at > :limit"
        ),
        {"limit": limit, "false": False, "now": limit - HARD_AHEAD},
    )
    connection.execute(
        sa.text(
            "UPDATE alarm SET reported_at = occurred_at, occurred_at = COALESCE("
            " (SELECT received_at FROM receipt WHERE receipt.event_id = alarm.event_id), :now)"
            " WHERE occurred_at > :limit"
        ),
        {"limit": limit, "now": limit - HARD_AHEAD},
    )


def downgrade() -> None:
    with op.batch_alter_table("compound") as batch:
        batch.drop_column("in_service_since")
    with op.batch_alter_table("alarm") as batch:
        batch.drop_column("reported_at")
    with op.batch_alter_table("entry") as batch:
        batch.drop_column("counted")
        batch.drop_column("reported_at")
