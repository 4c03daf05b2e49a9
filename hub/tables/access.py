"""Who may use the hub, their sessions, and the tamper-evident audit log."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.tables.common import utc_column


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16, description="admin, staff, officer or resident")
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    unit_id: str | None = Field(default=None, foreign_key="unit.id", max_length=64)
    person_id: str | None = Field(
        default=None,
        foreign_key="person.id",
        max_length=64,
        description="The account holder's own entry in the registry, if they have one",
    )
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    disabled_at: datetime | None = Field(
        default=None,
        sa_column=utc_column(nullable=True),
        description="Closed (a move-out, or an administrator): no login, no session",
    )


class AuthToken(SQLModel, table=True):
    """A session: only the token's SHA-256 is kept."""

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    expires_at: datetime = Field(sa_column=utc_column())


class AuditRecord(SQLModel, table=True):
    """One link of a hash chain: editing or deleting any record breaks every later hash."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(index=True))
    actor: str = Field(max_length=64)
    role: str = Field(max_length=16)
    compound_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=16, description="read, create, update or delete")
    target: str = Field(max_length=200, description="what was touched, e.g. person:p-1")
    reason: str = Field(default="", max_length=500)
    key_id: str = Field(
        default="",
        max_length=16,
        sa_column_kwargs={"server_default": ""},
        description="The hub's key that sealed it (HMAC); empty: an unkeyed SHA-256 link",
    )
    prev_hash: str = Field(max_length=64, unique=True, description="A chain cannot fork")
    hash: str = Field(max_length=64, unique=True)
