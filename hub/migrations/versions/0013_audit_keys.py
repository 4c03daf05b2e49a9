"""Audit records name the hub key that sealed them (an HMAC over the record and the link
before it): rewriting the chain needs the key, which the hub keeps apart from the database.
Records written before are unkeyed SHA-256 links, verified as they were (key_id empty).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auditrecord") as batch:
        batch.add_column(
            sa.Column("key_id", sa.String(length=16), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("auditrecord") as batch:
        batch.drop_column("key_id")
