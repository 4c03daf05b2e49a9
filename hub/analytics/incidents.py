"""Incidents (发案), the zero-incident rate, and residents' reports as work orders.

A compound's zero-incident rate over a period is the share of its local days with no
incident; a district's is the share of its compounds with no incident in the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from hub.errors import Conflict, InvalidInput
from hub.records import owned
from hub.tables import Compound, Incident, WorkOrder, as_utc


class Category(StrEnum):
    THEFT = "theft"
    BURGLARY = "burglary"
    FRAUD = "fraud"
    ASSAULT = "assault"
    VANDALISM = "vandalism"
    FIRE = "fire"
    OTHER = "other"


@dataclass(frozen=True)
class Period:
    """Local days `first` to `last`, both included."""

    first: date
    last: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidInput("a period ends on or after the day it starts")
        if self.first.year < 2000 or self.last.year > 2100:
            raise InvalidInput("a period between the years 2000 and 2100, please")
        if (self.last - self.first).days > 3660:
            raise InvalidInput("a period is at most ten years")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(), self.zone)
        end = datetime.combine(self.last + timedelta(days=1), time(), self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)  # stored times are UTC


@dataclass(frozen=True)
class ZeroIncident:
    compound_id: str
    days: int
    incident_days: int
    incidents: int
    rate: float
    streak_days: int


@dataclass(frozen=True)
class District:
    compounds: int
    without_incident: int
    share: float
    per_compound: list[ZeroIncident]


def record(
    *,
    session: Session,
    compound_id: str,
    category: Category,
    occurred_at: datetime,
    summary: str,
    recorded_by: str,
    now: datetime,
) -> Incident:
    if occurred_at > now + timedelta(minutes=5):
        raise InvalidInput("an incident cannot be recorded before it happens")
    incident = Incident(
        compound_id=compound_id,
        category=category.value,
        occurred_at=occurred_at.astimezone(UTC),
        summary=summary,
        recorded_by=recorded_by,
        recorded_at=now,
    )
    session.add(incident)
    session.flush()  # its number, for the audit record
    return incident


def list_incidents(*, session: Session, compound_id: str, limit: int) -> Sequence[Incident]:
    query = (
        select(Incident)
        .where(col(Incident.compound_id) == compound_id)
        .order_by(col(Incident.occurred_at).desc(), col(Incident.id).desc())
    )
    return session.exec(query.limit(limit)).all()


def zero_incident(*, session: Session, compound_id: str, period: Period) -> ZeroIncident:
    start, end = period.bounds()
    times = session.exec(
        select(Incident.occurred_at).where(
            col(Incident.compound_id) == compound_id,
            col(Incident.occurred_at) >= start,
            col(Incident.occurred_at) < end,
        )
    ).all()
    days = {as_utc(at).astimezone(period.zone).date() for at in times}
    last = max(days, default=None)
    streak = (period.last - last).days if last else period.days
    return ZeroIncident(
        compound_id=compound_id,
        days=period.days,
        incident_days=len(days),
        incidents=len(times),
        rate=round((period.days - len(days)) / period.days, 4),
        streak_days=streak,
    )


def district(*, session: Session, period: Period) -> District:
    compounds = session.exec(select(Compound.id).order_by(col(Compound.id))).all()
    figures = [zero_incident(session=session, compound_id=c, period=period) for c in compounds]
    clean = sum(1 for f in figures if f.incidents == 0)
    share = round(clean / len(figures), 4) if figures else 1.0
    return District(
        compounds=len(figures), without_incident=clean, share=share, per_compound=figures
    )


class OrderStatus(StrEnum):
    OPEN = "open"
    RESPONDED = "responded"
    CLOSED = "closed"


def report(
    *,
    session: Session,
    compound_id: str,
    category: str,
    description: str,
    reported_by: str,
    now: datetime,
    response_minutes: int,
) -> WorkOrder:
    order = WorkOrder(
        compound_id=compound_id,
        category=category,
        description=description,
        reported_by=reported_by,
        reported_at=now,
        due_at=now + timedelta(minutes=response_minutes),
    )
    session.add(order)
    session.flush()  # its number, for the audit record
    return order


def get_order(*, session: Session, compound_id: str, order_id: int) -> WorkOrder:
    return owned(session, WorkOrder, order_id, compound_id, "work order")


def assign(*, order: WorkOrder, owner: str) -> None:
    if order.status == OrderStatus.CLOSED.value:
        raise Conflict("the work order is closed")
    order.owner = owner


def respond(*, order: WorkOrder, note: str, now: datetime) -> None:
    """The owner is on it: the response time stops here."""
    if order.status != OrderStatus.OPEN.value:
        raise Conflict(f"the work order is already {order.status}")
    order.status = OrderStatus.RESPONDED.value
    order.responded_at = now
    order.note = note


def close(*, order: WorkOrder, note: str, now: datetime) -> None:
    if order.status == OrderStatus.CLOSED.value:
        raise Conflict("the work order is already closed")
    order.responded_at = order.responded_at or now
    order.status = OrderStatus.CLOSED.value
    order.closed_at = now
    order.note = note


Step = Literal["assign", "respond", "close"]


def step(
    *,
    session: Session,
    compound_id: str,
    order_id: int,
    action: Step,
    owner: str,
    note: str,
    now: datetime,
) -> WorkOrder:
    """One step of staff on an order (assign an owner, respond, or close); the caller
    commits."""
    order = get_order(session=session, compound_id=compound_id, order_id=order_id)
    _apply(order, action, owner, note, now)
    session.add(order)
    return order


def _apply(order: WorkOrder, action: Step, owner: str, note: str, now: datetime) -> None:
    if action == "assign":
        assign(order=order, owner=owner)
    elif action == "respond":
        respond(order=order, note=note, now=now)
    else:
        close(order=order, note=note, now=now)


def overdue(order: WorkOrder, now: datetime) -> bool:
    """Not answered and past its response time."""
    return order.status == OrderStatus.OPEN.value and now > as_utc(order.due_at)


def late(order: WorkOrder) -> bool:
    """Answered, but after its response time."""
    return order.responded_at is not None and as_utc(order.responded_at) > as_utc(order.due_at)


def list_orders(
    *,
    session: Session,
    compound_id: str,
    status: OrderStatus | None,
    limit: int,
    reported_by: str | None = None,
) -> Sequence[WorkOrder]:
    """Newest first; `reported_by` keeps one reporter's own (a resident's view)."""
    query = select(WorkOrder).where(col(WorkOrder.compound_id) == compound_id)
    if reported_by is not None:
        query = query.where(col(WorkOrder.reported_by) == reported_by)
    if status is not None:
        query = query.where(col(WorkOrder.status) == status.value)
    query = query.order_by(col(WorkOrder.reported_at).desc(), col(WorkOrder.id).desc())
    return session.exec(query.limit(limit)).all()


def open_orders(*, session: Session, compound_id: str) -> int:
    query = select(func.count()).where(
        col(WorkOrder.compound_id) == compound_id,
        col(WorkOrder.status) == OrderStatus.OPEN.value,
    )
    return int(session.exec(query).one())
