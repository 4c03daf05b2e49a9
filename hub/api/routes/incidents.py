"""Incidents and the zero-incident rate (per compound, and across the district), and
residents' reports as work orders with a response deadline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.analytics import incidents
from hub.analytics.incidents import Category, OrderStatus, Period
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.api.params import RowId
from hub.auth import Role
from hub.callers import Caller
from hub.tables import Incident, WorkOrder, as_utc, utcnow
from models.events import Moment, Text

router = APIRouter(prefix="/api", tags=["incidents and work orders"])
Recorder = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER)]
Reporter = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, Role.RESIDENT)]
Handler = Annotated[Caller, allow(Role.ADMIN, Role.STAFF)]


class IncidentBody(BaseModel):
    category: Category
    occurred_at: Moment
    summary: Text = Field(min_length=3, max_length=1000)


class IncidentPublic(IncidentBody):
    id: int
    recorded_by: str
    recorded_at: datetime


class RateQuery(BaseModel):
    first: date | None = Field(None, description="First local day (default: 30 days ago)")
    last: date | None = Field(None, description="Last local day, included (default: today)")


class ZeroIncidentPublic(BaseModel):
    compound_id: str
    first: date
    last: date
    days: int
    incident_days: int
    incidents: int
    rate: float = Field(description="Share of days with no incident")
    streak_days: int = Field(description="Days since the last incident day, up to `last`")


class DistrictPublic(BaseModel):
    first: date
    last: date
    compounds: int
    without_incident: int
    share: float = Field(description="Share of compounds with no incident in the period")
    per_compound: list[ZeroIncidentPublic]


class OrderBody(BaseModel):
    category: str = Field(min_length=2, max_length=32, description="lost_card, dog, barrier…")
    description: Text = Field(min_length=3, max_length=1000)


class OrderStep(BaseModel):
    action: incidents.Step
    owner: str | None = Field(None, max_length=64)
    note: Text = Field("", max_length=1000)


class OrderPublic(BaseModel):
    id: int
    category: str
    description: str
    reported_by: str
    reported_at: datetime
    due_at: datetime
    owner: str | None
    status: str
    responded_at: datetime | None
    closed_at: datetime | None
    note: str | None
    overdue: bool
    late: bool


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
    session.commit()
    caller.audit("record", f"incident:{incident.id}")
    return _incident(incident)


@router.get("/incidents")
def list_incidents(
    caller: Recorder, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[IncidentPublic]:
    rows = incidents.list_incidents(session=session, compound_id=caller.compound_id, limit=limit)
    caller.audit("read", "incidents")
    return [_incident(row) for row in rows]


@router.get("/zero-incident")
def zero_incident_rate(
    caller: Recorder,
    session: SessionDep,
    services: ServicesDep,
    query: Annotated[RateQuery, Query()],
) -> ZeroIncidentPublic:
    period = _period(query, services)
    figure = incidents.zero_incident(session=session, compound_id=caller.compound_id, period=period)
    return ZeroIncidentPublic(**vars(figure), first=period.first, last=period.last)


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
    view = incidents.district(session=session, period=period)
    per = [
        ZeroIncidentPublic(**vars(f), first=period.first, last=period.last)
        for f in view.per_compound
    ]
    return DistrictPublic(
        first=period.first,
        last=period.last,
        compounds=view.compounds,
        without_incident=view.without_incident,
        share=view.share,
        per_compound=per,
    )


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
    session.commit()
    session.refresh(order)
    return _order(order)


@router.get("/work-orders")
def list_work_orders(
    caller: Reporter,
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
    return [_order(row) for row in rows]


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
    session.commit()
    session.refresh(order)
    caller.audit(body.action, f"work-order:{order_id}")
    return _order(order)


def _period(query: RateQuery, services: ServicesDep) -> Period:
    zone = services.settings.analytics.zone
    today = utcnow().astimezone(zone).date()
    last = query.last or today
    first = query.first or last - timedelta(days=29)
    return Period(first=first, last=last, zone=zone)


def _incident(row: Incident) -> IncidentPublic:
    assert row.id is not None
    return IncidentPublic(
        id=row.id,
        category=Category(row.category),
        occurred_at=as_utc(row.occurred_at),
        summary=row.summary,
        recorded_by=row.recorded_by,
        recorded_at=as_utc(row.recorded_at),
    )


def _order(row: WorkOrder) -> OrderPublic:
    fields = row.model_dump(exclude={"compound_id"})
    for name in ("reported_at", "due_at", "responded_at", "closed_at"):
        fields[name] = as_utc(fields[name]) if fields[name] else None
    return OrderPublic(**fields, overdue=incidents.overdue(row, utcnow()), late=incidents.late(row))
