"""Face templates name their engine; a compound names the engines it enrols for and the
risk gate's limit. Templates stored before engines existed are dlib's.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DLIB_ONLY = '[{"type": "dlib"}]'


def upgrade() -> None:
    with op.batch_alter_table("facetemplate") as batch:
        batch.add_column(
            sa.Column("engine", sa.String(length=64), nullable=False, server_default="dlib")
        )
    with op.batch_alter_table("compound") as batch:
        batch.add_column(
            sa.Column("face_engines", sa.Text(), nullable=False, server_default=DLIB_ONLY)
        )
        batch.add_column(
            sa.Column("face_fpir_limit", sa.Float(), nullable=False, server_default="0.01")
        )


def downgrade() -> None:
    with op.batch_alter_table("compound") as batch:
        batch.drop_column("face_fpir_limit")
        batch.drop_column("face_engines")
    with op.batch_alter_table("facetemplate") as batch:
        batch.drop_column("engine")
