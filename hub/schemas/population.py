"""The register reconciled with who the gates actually see."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AbsentPublic(BaseModel):
    person_id: str
    name: str
    unit: str | None
    last_seen: datetime | None


class RegularPublic(BaseModel):
    identity: str
    method: str
    days_seen: int
    sightings: int
    last_seen: datetime


class Reconciliation(BaseModel):
    absent_days: int
    absent: list[AbsentPublic]
    regular_days: int
    unregistered: list[RegularPublic]
