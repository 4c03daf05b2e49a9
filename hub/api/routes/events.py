from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hub import crud, registry
from hub.api.deps import PersonalDataReader, SessionDep
from hub.auth import Role
from hub.tables import Entry, EntryPublic, as_utc
from models.events import Method, Outcome, UtcDatetime

router = APIRouter(prefix="/api", tags=["events"])


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: UtcDatetime | None = Field(None, description="Occurred at or after (with timezone)")
    until: UtcDatetime | None = Field(None, description="Occurred before (with timezone)")
    gate_id: str | None = None
    method: Method | None = None
    decision: Outcome | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")


class EntryPage(BaseModel):
    items: list[EntryPublic]
    next_cursor: str | None


@router.get("/events")
def list_events(
    caller: PersonalDataReader, session: SessionDep, query: Annotated[EventQuery, Query()]
) -> EntryPage:
    """Entry events of the caller's compound, newest first, keyset-paged. A resident sees
    the entries of their own unit's people."""
    subject_ids = None
    if caller.role is Role.RESIDENT:  # fails closed: a resident without a unit sees nothing
        unit_id = caller.user.unit_id or ""
        subject_ids = tuple(p.id for p in registry.people_of_unit(session=session, unit_id=unit_id))
    filters = crud.EntryFilter(
        compound_id=caller.compound_id,
        subject_ids=subject_ids,
        since=query.since,
        until=query.until,
        gate_id=query.gate_id,
        method=query.method.value if query.method else None,
        outcome=query.decision.value if query.decision else None,
    )
    rows, next_cursor = crud.list_entries(
        session=session, filters=filters, limit=query.limit, cursor=query.cursor
    )
    caller.audit("read", "entries")
    return EntryPage(items=[_public(row) for row in rows], next_cursor=next_cursor)


def _public(row: Entry) -> EntryPublic:
    entry = EntryPublic.model_validate(row)
    return entry.model_copy(update={"occurred_at": as_utc(entry.occurred_at)})
