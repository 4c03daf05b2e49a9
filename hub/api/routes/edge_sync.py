"""What edges ask the hub over HTTPS, authenticated by their token: registry deltas, the time,
the count of a pass's entries across all gates, and which way a person last passed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import update
from sqlmodel import col, select

from hub import registry
from hub.api.deps import EdgeDep, ServicesDep, SessionDep
from hub.schemas.edge_sync import EntryCount, HubTime, Presence
from hub.tables import Entry, PassEntry, VisitorPass, as_utc, utcnow
from models.events import Direction
from models.registry import RegistryDelta

router = APIRouter(prefix="/api/edge", tags=["edge"])


@router.get("/registry")
def pull_registry(
    edge: EdgeDep,
    session: SessionDep,
    services: ServicesDep,
    since: Annotated[int, Query(ge=0)] = 0,
) -> RegistryDelta:
    """What changed in the edge's compound since `since` (0, or a version the hub no longer
    knows of, gets a full snapshot), face templates included. Authenticated by the edge's
    token."""
    box = services.settings.secret_box_or_none()
    return registry.delta_since(session=session, compound_id=edge.compound_id, since=since, box=box)


@router.get("/clock")
def clock(edge: EdgeDep) -> HubTime:
    """The hub's time, from which the edge measures its clock's offset."""
    return HubTime(now=utcnow())


@router.post("/passes/{pass_id}/entries")
def count_entry(
    pass_id: str, edge: EdgeDep, session: SessionDep, entry: Annotated[uuid.UUID, Query()]
) -> EntryCount:
    """Count entry `entry` (the entry event's id) on a pass if it has one left, atomically:
    two gates asking at once cannot both take the last one, and the same entry asked twice is
    counted once. A revoked, expired or unknown pass has none."""
    row = session.get(VisitorPass, pass_id)
    if row is None or row.compound_id != edge.compound_id:
        return EntryCount(granted=False, entries=0, max_entries=0)
    if session.get(PassEntry, entry) is not None:
        return EntryCount(granted=True, entries=row.entries_used, max_entries=row.max_entries)
    now = utcnow()
    taken = session.execute(
        update(VisitorPass)
        .where(
            col(VisitorPass.id) == pass_id,
            col(VisitorPass.entries_used) < col(VisitorPass.max_entries),
            col(VisitorPass.revoked_at).is_(None),
            col(VisitorPass.valid_from) <= now,
            col(VisitorPass.valid_until) > now,
        )
        .values(entries_used=col(VisitorPass.entries_used) + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if taken:
        session.add(PassEntry(event_id=entry, pass_id=pass_id, online=True, counted_at=now))
    session.commit()
    session.refresh(row)
    return EntryCount(granted=taken == 1, entries=row.entries_used, max_entries=row.max_entries)


@router.get("/presence/{subject_id}")
def presence(subject_id: str, edge: EdgeDep, session: SessionDep) -> Presence:
    """Which way `subject_id` last passed any gate of the compound (a granted entry), for
    anti-passback across gates and edges."""
    last = session.exec(
        select(Entry)
        .where(
            col(Entry.compound_id) == edge.compound_id,
            col(Entry.subject_id) == subject_id,
            col(Entry.outcome) == "granted",
        )
        .order_by(col(Entry.occurred_at).desc())
        .limit(1)
    ).first()
    if last is None:
        return Presence(direction=None, at=None)
    return Presence(direction=Direction(last.direction), at=as_utc(last.occurred_at))
