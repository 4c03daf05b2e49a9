"""Visitor passes, their QR content, and walk-ins registered at the guard booth."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from hub.tables import VisitorPass, as_utc
from models.events import Identifier, Text, UtcDatetime

MAX_VALIDITY = timedelta(days=31)


class PassCreate(BaseModel):
    id: Identifier
    unit_id: Identifier
    visitor_name: Text = Field(max_length=100)
    valid_from: UtcDatetime
    valid_until: UtcDatetime
    max_entries: int = Field(1, ge=1, le=100)
    plate: str | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def _window(self) -> PassCreate:
        if not self.valid_from < self.valid_until <= self.valid_from + MAX_VALIDITY:
            raise ValueError("a pass runs forwards, for at most 31 days")
        return self


class PassPublic(PassCreate):
    revoked: bool
    entries_used: int = 0

    @classmethod
    def of(cls, row: VisitorPass) -> PassPublic:
        return cls.model_validate(_fields(row))


class PassIssued(PassPublic):
    token: str = Field(description="Signed QR content; the edge verifies it offline")

    @classmethod
    def of_issued(cls, row: VisitorPass, token: str) -> PassIssued:
        return cls.model_validate(_fields(row) | {"token": token})


class PassQr(BaseModel):
    token: str


class WalkIn(BaseModel):
    gate_id: Identifier
    unit_id: Identifier
    visitor_name: Text = Field(min_length=1, max_length=60)
    kind: Literal["visitor", "courier"] = "visitor"
    minutes: int = Field(60, ge=5, le=24 * 60)
    plate: str | None = Field(None, max_length=20)


class WalkInPass(PassPublic):
    token: str

    @classmethod
    def of_issued(cls, row: VisitorPass, token: str) -> WalkInPass:
        return cls.model_validate(_fields(row) | {"token": token})


def _fields(row: VisitorPass) -> dict[str, object]:
    return {
        "id": row.id,
        "unit_id": row.unit_id,
        "visitor_name": row.visitor_name,
        "valid_from": as_utc(row.valid_from),
        "valid_until": as_utc(row.valid_until),
        "max_entries": row.max_entries,
        "plate": row.plate,
        "revoked": row.revoked_at is not None,
        "entries_used": row.entries_used,
    }
