"""What edges ask the hub over HTTPS, authenticated by their token: registry deltas, the time,
the count of a pass's entries across all gates, and which way a person last passed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from hub import crud, passes, registry
from hub.api.deps import EdgeDep, ServicesDep, SessionDep
from hub.schemas.edge_sync import EntryCount, HubTime, Presence
from hub.tables import as_utc, utcnow
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
    counted = passes.count_entry(
        session=session, compound_id=edge.compound_id, pass_id=pass_id, entry=entry
    )
    return EntryCount(**vars(counted))


@router.get("/presence/{subject_id}")
def presence(subject_id: str, edge: EdgeDep, session: SessionDep) -> Presence:
    """Which way `subject_id` last passed any gate of the compound (a granted entry), for
    anti-passback across gates and edges."""
    last = crud.last_passage(session=session, compound_id=edge.compound_id, subject_id=subject_id)
    if last is None:
        return Presence(direction=None, at=None)
    return Presence(direction=Direction(last.direction), at=as_utc(last.occurred_at))
