"""Each edge says back the audit chain's head as it last heard it from the hub: the head is
then known beyond the hub's database, and a cut tail shows.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edge") as batch:
        batch.add_column(sa.Column("audit_head_record", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("audit_head_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edge") as batch:
        batch.drop_column("audit_head_hash")
        batch.drop_column("audit_head_record")
