"""Watchlist entries: a plate or a person, and what an edge does when it sees them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hub.tables import WatchlistEntry
from models.events import Identifier, Text


class WatchCreate(BaseModel):
    id: Identifier
    target: Literal["plate", "person"]
    value: str = Field(min_length=1, max_length=64)
    action: Literal["deny", "alert"]
    reason: Text = Field(min_length=3, max_length=500)

    @classmethod
    def of(cls, row: WatchlistEntry) -> WatchCreate:
        return cls.model_validate(
            {
                "id": row.id,
                "target": row.kind,
                "value": row.value,
                "action": row.action,
                "reason": row.reason,
            }
        )
