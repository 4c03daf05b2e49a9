"""Temporary vehicles (临停): a visitor's or unknown vehicle's stay, from entry to exit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Stay(BaseModel):
    plate: str
    subject_kind: str
    entered_at: datetime
    entry_gate: str
    exited_at: datetime | None
    exit_gate: str | None
    minutes: float
