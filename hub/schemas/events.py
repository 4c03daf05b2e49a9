"""The entry log: its search, an entry as the API shows it, and a page of them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.tables import Entry, EntryBase, as_utc
from models.events import Method, Moment, Outcome


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Moment | None = Field(None, description="Occurred at or after (with timezone)")
    until: Moment | None = Field(None, description="Occurred before (with timezone)")
    gate_id: str | None = None
    method: Method | None = None
    decision: Outcome | None = None
    person_id: str | None = Field(None, max_length=64, description="One person's history")
    plate: str | None = Field(None, max_length=16, description="A whole plate, exactly")
    plate_prefix: str | None = Field(
        None, min_length=1, max_length=16, description="Plates beginning so (粤B, say)"
    )
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")


class EntryPublic(EntryBase):
    @classmethod
    def of(cls, row: Entry) -> EntryPublic:
        """As the API shows it: times in UTC whatever the database handed back."""
        entry = cls.model_validate(row)
        reported = entry.reported_at
        return entry.model_copy(
            update={
                "occurred_at": as_utc(entry.occurred_at),
                "reported_at": None if reported is None else as_utc(reported),
            }
        )


class EntryPage(BaseModel):
    items: list[EntryPublic]
    next_cursor: str | None
