"""Tables of what staff and officers work on: anomalies with their evidence and the actions
taken on them, incidents, and residents' reports as work orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.tables.common import utc_column


class Anomaly(SQLModel, table=True):
    """One finding of a rule, kept across scans by its (rule, key)."""

    __table_args__ = (
        UniqueConstraint("compound_id", "rule", "key", name="anomaly_finding"),
        Index("anomaly_status", "compound_id", "status", "last_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    compound_id: str = Field(max_length=64)
    rule: str = Field(max_length=32)
    key: str = Field(max_length=200, description="What makes two findings the same one")
    subject: str | None = Field(default=None, max_length=64, description="Person, plate or alias")
    summary: str = Field(max_length=500)
    first_at: datetime = Field(sa_column=utc_column())
    last_at: datetime = Field(sa_column=utc_column())
    status: str = Field(default="open", max_length=16)
    assignee: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=utc_column())


class AnomalyEvidence(SQLModel, table=True):
    """An event (entry or alarm, by event id) or a hub alarm (`alarm:ID`) behind an anomaly."""

    anomaly_id: int = Field(foreign_key="anomaly.id", primary_key=True)
    ref: str = Field(primary_key=True, max_length=64)


class AnomalyAction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    anomaly_id: int = Field(foreign_key="anomaly.id", index=True)
    actor: str = Field(max_length=64, description="A user name, or `hub` for automatic steps")
    action: str = Field(max_length=16)
    status: str = Field(max_length=16, description="The status after the action")
    assignee: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=500)
    at: datetime = Field(sa_column=utc_column())


class Incident(SQLModel, table=True):
    """A security case (发案) recorded by staff or officers."""

    id: int | None = Field(default=None, primary_key=True)
    compound_id: str = Field(max_length=64, index=True)
    category: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_column=utc_column(index=True))
    summary: str = Field(max_length=1000)
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_column=utc_column())


class WorkOrder(SQLModel, table=True):
    """A resident's report (a lost card, an unleashed dog, a broken barrier) with an owner and
    a response deadline."""

    id: int | None = Field(default=None, primary_key=True)
    compound_id: str = Field(max_length=64, index=True)
    category: str = Field(max_length=32)
    description: str = Field(max_length=1000)
    reported_by: str = Field(max_length=64)
    reported_at: datetime = Field(sa_column=utc_column())
    due_at: datetime = Field(sa_column=utc_column())
    owner: str | None = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=16)
    responded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    note: str | None = Field(default=None, max_length=1000)
