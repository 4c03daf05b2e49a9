"""The entry log: search (keyset-paged), CSV export, and a decision's snapshot."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from hub import crud
from hub.api.deps import PersonalDataReader, ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.entry_log import (
    EXPORT_LIMIT,
    SNAPSHOT_HEADERS,
    EventQuery,
    entry_csv,
    entry_filter,
    snapshot_of,
)
from hub.schemas.events import EntryPage, EntryPublic

router = APIRouter(prefix="/api", tags=["events"])
SnapshotViewer = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, personal_data=True)]


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


@router.get(
    "/events/{event_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The JPEG"}},
)
def event_snapshot(
    event_id: uuid.UUID, caller: SnapshotViewer, session: SessionDep, services: ServicesDep
) -> Response:
    """The picture the edge kept of this decision (a vehicle lane's: the plate as read, or
    the ANPR camera's snapshot), fetched from that edge now and kept nowhere here. Every
    request for an entry of the caller's compound is audited, answered or not: 404 when
    none was kept or it is past the edge's retention, 503 when the broker or the edge does
    not answer."""
    jpeg = snapshot_of(event_id, caller, session, services)
    return Response(jpeg, media_type="image/jpeg", headers=SNAPSHOT_HEADERS)


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
