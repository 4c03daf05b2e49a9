"""Face templates name their engine; a compound names the engines it enrols for and the
risk gate's limit. Templates stored before engines existed are dlib's. Each compound's
registry moves on by one version that names dlib's risk gate, so that every edge pulls it
at once (without it, no face would open alone until a face changed).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence
from datetime import UTC, datetime

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
    _announce_risk_gates()


def _announce_risk_gates() -> None:
    connection = op.get_bind()
    compounds = connection.execute(sa.text("SELECT id, registry_version FROM compound")).all()
    for compound_id, version in compounds:
        connection.execute(
            sa.text("UPDATE compound SET registry_version = :v WHERE id = :id"),
            {"v": version + 1, "id": compound_id},
        )
        connection.execute(
            sa.text(
                "INSERT INTO registrychange (compound_id, version, record_kind, record_id, op, at)"
                " VALUES (:id, :v, 'face_policy', 'policy-dlib', 'upsert', :at)"
            ),
            {"id": compound_id, "v": version + 1, "at": datetime.now(UTC)},
        )


def downgrade() -> None:
    with op.batch_alter_table("compound") as batch:
        batch.drop_column("face_fpir_limit")
        batch.drop_column("face_engines")
    with op.batch_alter_table("facetemplate") as batch:
        batch.drop_column("engine")
