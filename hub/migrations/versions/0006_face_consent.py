"""Faces: consent records, encrypted templates, and a face decision's margin and liveness.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entry") as batch_op:
        batch_op.add_column(sa.Column("margin", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("live", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("quality", sa.Float(), nullable=True))
    op.create_table(
        "faceconsent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("given_by", sa.String(length=16), nullable=False),
        sa.Column("guardian_name", sa.String(length=100), nullable=True),
        sa.Column("document_ref", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["compound_id"], ["compound.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_faceconsent_person_id", "faceconsent", ["person_id"])
    op.create_table(
        "facetemplate",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("compound_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["compound_id"], ["compound.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["consent_id"], ["faceconsent.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_facetemplate_compound_id", "facetemplate", ["compound_id"])
    op.create_index("ix_facetemplate_person_id", "facetemplate", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_facetemplate_person_id", table_name="facetemplate")
    op.drop_index("ix_facetemplate_compound_id", table_name="facetemplate")
    op.drop_table("facetemplate")
    op.drop_index("ix_faceconsent_person_id", table_name="faceconsent")
    op.drop_table("faceconsent")
    with op.batch_alter_table("entry") as batch_op:
        batch_op.drop_column("quality")
        batch_op.drop_column("live")
        batch_op.drop_column("margin")
