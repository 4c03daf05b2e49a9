"""The hub's tables, and the public shapes the API returns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc_column(*, index: bool = False, nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), index=index, nullable=nullable)


def _seq_column() -> Column[int]:
    return Column(BigInteger, nullable=False)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every datetime the hub stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Edge(SQLModel, table=True):
    edge_id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(index=True, max_length=64)
    public_key: str
    online: bool = False
    status_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    outbox_rows: int | None = None
    outbox_oldest_age_s: float | None = None
    outbox_refused: int | None = None
    registry_version: int | None = None


class Receipt(SQLModel, table=True):
    """One row per event ever accepted: the ledger that makes ingest exactly-once."""

    __table_args__ = (UniqueConstraint("edge_id", "epoch", "seq", name="receipt_position"),)

    event_id: uuid.UUID = Field(primary_key=True)
    edge_id: str = Field(max_length=64)
    epoch: uuid.UUID
    seq: int = Field(sa_column=_seq_column())
    kind: str = Field(max_length=16)
    received_at: datetime = Field(sa_column=_utc_column())


class EntryBase(SQLModel):
    event_id: uuid.UUID = Field(primary_key=True)
    edge_id: str = Field(max_length=64)
    epoch: uuid.UUID
    seq: int
    compound_id: str = Field(max_length=64)
    gate_id: str = Field(max_length=64)
    lane: str = Field(max_length=64)
    direction: str = Field(max_length=8)
    occurred_at: datetime
    subject_kind: str = Field(max_length=16)
    subject_id: str | None = Field(default=None, max_length=64)
    method: str = Field(max_length=16)
    credential_ref: str | None = Field(default=None, max_length=128)
    score: float | None = None
    outcome: str = Field(max_length=16)
    reason_code: str = Field(max_length=64)
    reason: str = Field(max_length=500)


class Entry(EntryBase, table=True):
    __table_args__ = (
        Index("entry_time", "occurred_at", "event_id"),
        Index("entry_subject", "subject_id", "occurred_at"),
    )

    occurred_at: datetime = Field(sa_column=_utc_column())
    seq: int = Field(sa_column=_seq_column())


class EntryPublic(EntryBase):
    pass


class Alarm(SQLModel, table=True):
    """Alarms from edges (with their event id) and alarms the hub raises itself."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: uuid.UUID | None = Field(default=None, unique=True)
    source: str = Field(max_length=8)
    edge_id: str | None = Field(default=None, max_length=64)
    compound_id: str | None = Field(default=None, max_length=64)
    gate_id: str | None = Field(default=None, max_length=64)
    code: str = Field(max_length=64)
    severity: str = Field(max_length=16)
    text: str = Field(max_length=1000)
    occurred_at: datetime = Field(sa_column=_utc_column(index=True))


class DeadLetter(SQLModel, table=True):
    """A payload the hub could not accept, kept with the reason instead of being dropped.

    Edges re-send what the hub does not confirm, so the same bytes arrive again and again:
    one row per distinct payload, counting its arrivals.
    """

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True, description="SHA-256 of the payload")
    received_at: datetime = Field(sa_column=_utc_column(index=True))
    last_seen_at: datetime = Field(sa_column=_utc_column())
    count: int = 1
    topic: str = Field(max_length=512)
    reason: str = Field(max_length=32)
    detail: str = Field(max_length=1000)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
