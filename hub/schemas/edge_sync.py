"""What edges ask the hub: the time, a pass's entries, which way someone last passed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from models.events import Direction


class HubTime(BaseModel):
    now: datetime


class EntryCount(BaseModel):
    granted: bool
    entries: int
    max_entries: int


class Presence(BaseModel):
    direction: Direction | None
    at: datetime | None
