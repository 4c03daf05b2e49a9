"""Incidents, the zero-incident rate (a compound's, a district's), and work orders."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from hub.analytics import incidents
from hub.analytics.incidents import Category, District, Period, ZeroIncident
from hub.tables import Incident, WorkOrder, as_utc
from models.events import Moment, Text


class IncidentBody(BaseModel):
    category: Category
    occurred_at: Moment
    summary: Text = Field(min_length=3, max_length=1000)


class IncidentPublic(IncidentBody):
    id: int
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, row: Incident) -> IncidentPublic:
        assert row.id is not None
        return cls(
            id=row.id,
            category=Category(row.category),
            occurred_at=as_utc(row.occurred_at),
            summary=row.summary,
            recorded_by=row.recorded_by,
            recorded_at=as_utc(row.recorded_at),
        )


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # as `Period` allows


class RateQuery(BaseModel):
    first: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="First local day (default: 30 days ago)"
    )
    last: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="Last local day, included (default: today)"
    )


class ZeroIncidentPublic(BaseModel):
    compound_id: str
    first: date
    last: date
    days: int
    incident_days: int
    incidents: int
    rate: float = Field(description="Share of days with no incident")
    streak_days: int = Field(description="Days since the last incident day, up to `last`")

    @classmethod
    def of(cls, figure: ZeroIncident, period: Period) -> ZeroIncidentPublic:
        return cls(**vars(figure), first=period.first, last=period.last)


class DistrictPublic(BaseModel):
    first: date
    last: date
    compounds: int
    without_incident: int
    share: float = Field(description="Share of compounds with no incident in the period")
    per_compound: list[ZeroIncidentPublic]

    @classmethod
    def of(cls, view: District, period: Period) -> DistrictPublic:
        return cls(
            first=period.first,
            last=period.last,
            compounds=view.compounds,
            without_incident=view.without_incident,
            share=view.share,
            per_compound=[ZeroIncidentPublic.of(f, period) for f in view.per_compound],
        )


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

    @classmethod
    def of(cls, row: WorkOrder, now: datetime) -> OrderPublic:
        assert row.id is not None
        return cls(
            id=row.id,
            category=row.category,
            description=row.description,
            reported_by=row.reported_by,
            reported_at=as_utc(row.reported_at),
            due_at=as_utc(row.due_at),
            owner=row.owner,
            status=row.status,
            responded_at=_utc(row.responded_at),
            closed_at=_utc(row.closed_at),
            note=row.note,
            overdue=incidents.overdue(row, now),
            late=incidents.late(row),
        )


def _utc(at: datetime | None) -> datetime | None:
    return None if at is None else as_utc(at)
