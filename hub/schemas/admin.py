"""The compound's buildings, units and gates, user accounts, and the audit chain's check."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hub.audit import Verification
from hub.auth import Role
from hub.tables import Gate, Unit, User, as_utc
from models.events import Identifier, Text


class BuildingCreate(BaseModel):
    id: Identifier
    name: Text = Field(max_length=100)


class UnitCreate(BaseModel):
    id: Identifier
    building_id: Identifier
    label: Text = Field(max_length=50)

    @classmethod
    def of(cls, row: Unit) -> UnitCreate:
        return cls(id=row.id, building_id=row.building_id, label=row.label)


class GateCreate(BaseModel):
    id: Identifier
    name: Text = Field(max_length=100)
    kind: Literal["pedestrian", "vehicle"]
    building_id: Identifier | None = Field(None, description="For a building's own gate")

    @classmethod
    def of(cls, row: Gate) -> GateCreate:
        return cls.model_validate(
            {"id": row.id, "name": row.name, "kind": row.kind, "building_id": row.building_id}
        )


class UserCreate(BaseModel):
    username: Identifier
    password: str = Field(min_length=10, max_length=256)
    role: Role
    unit_id: Identifier | None = None
    person_id: Identifier | None = Field(
        None, description="The holder's own entry in the registry (a resident's, in their unit)"
    )


class UserPublic(BaseModel):
    username: str
    role: Role
    unit_id: str | None
    person_id: str | None = None
    disabled_at: datetime | None = Field(None, description="When the account was closed")

    @classmethod
    def of(cls, user: User) -> UserPublic:
        closed = None if user.disabled_at is None else as_utc(user.disabled_at)
        return cls(
            username=user.username,
            role=Role(user.role),
            unit_id=user.unit_id,
            person_id=user.person_id,
            disabled_at=closed,
        )


class SessionsEnded(BaseModel):
    username: str
    sessions: int = Field(description="How many sessions were ended")


class AuditCheck(BaseModel):
    records: int
    head: str
    ok: bool
    problems: list[str]
    sealed_by: dict[str, int] = Field(
        description='Records by the id of the hub key that sealed them; "": unkeyed links'
    )

    @classmethod
    def of(cls, result: Verification) -> AuditCheck:
        return cls(
            records=result.records,
            head=result.head,
            ok=result.ok,
            problems=result.problems,
            sealed_by=result.sealed_by,
        )
