"""Alembic environment: the hub runs its migrations itself (`hub.core.db.migrate`)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import hub.tables  # noqa: F401  (registers every table on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
