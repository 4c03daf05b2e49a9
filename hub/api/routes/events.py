"""The entry log: search (keyset-paged) and CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from hub import crud
from hub.api.deps import PersonalDataReader, SessionDep
from hub.entry_log import EXPORT_LIMIT, EventQuery, entry_csv, entry_filter
from hub.tables import EntryPublic

router = APIRouter(prefix="/api", tags=["events"])


class EntryPage(BaseModel):
    items: list[EntryPublic]
    next_cursor: str | None


@router.get("/events")
def list_events(
    caller: PersonalDataReader, session: SessionDep, query: Annotated[EventQuery, Query()]
) -> EntryPage:
    """Entry events of the caller's compound, newest first, keyset-paged. A resident sees
    the entries of their own unit's people."""
    rows, next_cursor = crud.list_entries(
        session=session,
        filters=entry_filter(caller, session, query),
        limit=query.limit,
        cursor=query.cursor,
    )
    caller.audit("read", "entries")
    return EntryPage(items=[EntryPublic.of(row) for row in rows], next_cursor=next_cursor)


@router.get("/events.csv", response_class=StreamingResponse)
def export_events(
    caller: PersonalDataReader, session: SessionDep, query: Annotated[EventQuery, Query()]
) -> StreamingResponse:
    """The same search as a CSV file (UTF-8 with a byte-order mark, so spreadsheet programs
    show the Chinese), every matching entry, newest first, at most `EXPORT_LIMIT` rows."""
    filters = entry_filter(caller, session, query)
    caller.audit("export", "entries")
    rows = crud.iter_entries(session=session, filters=filters, limit=EXPORT_LIMIT)
    headers = {"Content-Disposition": 'attachment; filename="anju-entries.csv"'}
    return StreamingResponse(entry_csv(rows), media_type="text/csv", headers=headers)
