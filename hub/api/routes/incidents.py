"""Incidents and the zero-incident rate (per compound, and across the district), and
residents' reports as work orders with a response deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from hub import audited
from hub.analytics import incidents
from hub.analytics.incidents import OrderStatus, Period
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.api.params import RowId
from hub.auth import Role
from hub.callers import Caller
from hub.schemas.incidents import (
    DistrictPublic,
    IncidentBody,
    IncidentPublic,
    OrderBody,
    OrderPublic,
    OrderStep,
    RateQuery,
    ZeroIncidentPublic,
)
from hub.tables import utcnow

router = APIRouter(prefix="/api", tags=["incidents and work orders"])
Recorder = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER)]
Reporter = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, Role.RESIDENT)]
Handler = Annotated[Caller, allow(Role.ADMIN, Role.STAFF)]
# Incidents and work orders name people (who reported, who did what): an officer says why.
CaseReader = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, personal_data=True)]
OrderReader = Annotated[
    Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, Role.RESIDENT, personal_data=True)
]


@router.post("/incidents", status_code=201)
def record_incident(body: IncidentBody, caller: Recorder, session: SessionDep) -> IncidentPublic:
    incident = incidents.record(
        session=session,
        compound_id=caller.compound_id,
        category=body.category,
        occurred_at=body.occurred_at,
        summary=body.summary,
        recorded_by=caller.user.username,
        now=utcnow(),
    )
    audited.commit(session, caller.note("record", f"incident:{incident.id}"))
    return IncidentPublic.of(incident)


@router.get("/incidents")
def list_incidents(
    caller: CaseReader, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[IncidentPublic]:
    rows = incidents.list_incidents(session=session, compound_id=caller.compound_id, limit=limit)
    caller.audit("read", "incidents")
    return [IncidentPublic.of(row) for row in rows]


@router.get("/zero-incident")
def zero_incident_rate(
    caller: Recorder,
    session: SessionDep,
    services: ServicesDep,
    query: Annotated[RateQuery, Query()],
) -> ZeroIncidentPublic:
    period = _period(query, services)
    figure = incidents.zero_incident(session=session, compound_id=caller.compound_id, period=period)
    return ZeroIncidentPublic.of(figure, period)


@router.get("/district/zero-incident")
def district_rate(
    caller: Recorder,
    session: SessionDep,
    services: ServicesDep,
    query: Annotated[RateQuery, Query()],
) -> DistrictPublic:
    """Across every compound this hub holds (a district hub takes their events bridged):
    counts only, no personal data."""
    period = _period(query, services)
    return DistrictPublic.of(incidents.district(session=session, period=period), period)


@router.post("/work-orders", status_code=201)
def report(
    body: OrderBody, caller: Reporter, session: SessionDep, services: ServicesDep
) -> OrderPublic:
    """A report from a resident (or from staff on their behalf), due for a response within
    the compound's response time (30 minutes unless configured)."""
    order = incidents.report(
        session=session,
        compound_id=caller.compound_id,
        category=body.category,
        description=body.description,
        reported_by=caller.user.username,
        now=utcnow(),
        response_minutes=services.settings.analytics.response_minutes,
    )
    audited.commit(session, caller.note("report", f"work-order:{order.id}"))
    return OrderPublic.of(order, utcnow())


@router.get("/work-orders")
def list_work_orders(
    caller: OrderReader,
    session: SessionDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OrderPublic]:
    """Staff see every order of the compound; a resident sees their own reports."""
    rows = incidents.list_orders(
        session=session,
        compound_id=caller.compound_id,
        status=status,
        limit=limit,
        reported_by=caller.user.username if caller.role is Role.RESIDENT else None,
    )
    caller.audit("read", "work-orders")
    return [OrderPublic.of(row, utcnow()) for row in rows]


@router.post("/work-orders/{order_id}/steps")
def step(order_id: RowId, body: OrderStep, caller: Handler, session: SessionDep) -> OrderPublic:
    order = incidents.step(
        session=session,
        compound_id=caller.compound_id,
        order_id=order_id,
        action=body.action,
        owner=body.owner or caller.user.username,
        note=body.note,
        now=utcnow(),
    )
    audited.commit(session, caller.note(body.action, f"work-order:{order_id}"))
    return OrderPublic.of(order, utcnow())


def _period(query: RateQuery, services: ServicesDep) -> Period:
    zone = services.settings.analytics.zone
    today = utcnow().astimezone(zone).date()
    last = query.last or today
    first = query.first or last - timedelta(days=29)
    return Period(first=first, last=last, zone=zone)
