from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.analytics import occupancy
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.tables import utcnow
from models.events import Moment

router = APIRouter(prefix="/api", tags=["occupancy"])
Viewer = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER)]


class BuildingCount(BaseModel):
    building_id: str | None = Field(description="None: people with no unit (staff, walk-ins)")
    name: str
    people: int


class Occupancy(BaseModel):
    at: datetime
    inside: dict[str, int] = Field(description="People inside by kind")
    total: int
    vehicles: dict[str, int] = Field(description="Vehicles inside: residents' and others")
    buildings: list[BuildingCount]


class Point(BaseModel):
    at: datetime
    people: dict[str, int]
    vehicles: dict[str, int]


class SeriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Moment
    until: Moment
    step_minutes: int = Field(60, ge=5, le=24 * 60)

    @model_validator(mode="after")
    def _bounded(self) -> SeriesQuery:
        if not self.since < self.until <= self.since + timedelta(days=31):
            raise ValueError("until must come after since, at most 31 days later")
        return self


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
