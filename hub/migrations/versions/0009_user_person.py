"""An account may name its holder's entry in the registry, so that a resident withdraws
their own face consent (and their minors'), not another adult's in the same unit.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("person_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key("user_person_id_fkey", "person", ["person_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_constraint("user_person_id_fkey", type_="foreignkey")
        batch.drop_column("person_id")
