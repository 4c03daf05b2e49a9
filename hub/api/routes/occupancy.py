from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from hub.analytics import occupancy
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.schemas.occupancy import BuildingCount, Occupancy, Point, SeriesQuery
from hub.tables import utcnow

router = APIRouter(prefix="/api", tags=["occupancy"])
Viewer = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER)]


@router.get("/occupancy")
def get_occupancy(caller: Viewer, session: SessionDep, services: ServicesDep) -> Occupancy:
    """Who is inside now (people by kind and by building, vehicles); docs/hub.md gives the
    policy for missed exits and late events."""
    at = utcnow()
    compound_id = caller.compound_id
    presence = services.settings.analytics.presence
    tracker = occupancy.now(session=session, compound_id=compound_id, presence=presence, at=at)
    count = tracker.count(at)
    buildings = occupancy.by_building(
        session=session, compound_id=compound_id, tracker=tracker, at=at
    )
    return Occupancy(
        at=at,
        inside=count.people,
        total=count.total_people,
        vehicles=count.vehicles,
        buildings=[BuildingCount(**vars(b)) for b in buildings],
    )


@router.get("/occupancy/series")
def get_series(
    caller: Viewer,
    session: SessionDep,
    services: ServicesDep,
    query: Annotated[SeriesQuery, Query()],
) -> list[Point]:
    """Occupancy over time, one point a step, for charts and for comparing with a truth."""
    counts = occupancy.series(
        session=session,
        compound_id=caller.compound_id,
        presence=services.settings.analytics.presence,
        since=query.since,
        until=query.until,
        step=timedelta(minutes=query.step_minutes),
    )
    return [Point(at=c.at, people=c.people, vehicles=c.vehicles) for c in counts]
