"""Tables of what edges send: events, alarms, dead letters, and the edges themselves."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.tables.common import seq_column, utc_column
from models.evidence import SNAPSHOT_FLAG


class Edge(SQLModel, table=True):
    edge_id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(index=True, max_length=64)
    public_key: str
    token_hash: str | None = Field(default=None, max_length=64, description="SHA-256 of its token")
    online: bool = False
    status_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    outbox_rows: int | None = None
    outbox_oldest_age_s: float | None = None
    outbox_refused: int | None = None
    registry_version: int | None = None
    registry_age_s: float | None = None
    registry_stale: bool | None = None
    clock_offset_s: float | None = None
    clock_trusted: bool | None = None
    audit_head_record: int | None = Field(
        default=None, description="The audit chain's head as the edge last heard it"
    )
    audit_head_hash: str | None = Field(default=None, max_length=64)


class Receipt(SQLModel, table=True):
    """One row per event ever accepted: the ledger that makes ingest exactly-once."""

    __table_args__ = (UniqueConstraint("edge_id", "epoch", "seq", name="receipt_position"),)

    event_id: uuid.UUID = Field(primary_key=True)
    edge_id: str = Field(max_length=64)
    epoch: uuid.UUID
    seq: int = Field(sa_column=seq_column())
    kind: str = Field(max_length=16)
    received_at: datetime = Field(sa_column=utc_column())


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
    margin: float | None = None
    live: bool | None = None
    quality: float | None = None
    outcome: str = Field(max_length=16)
    reason_code: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    flags: str = Field(
        default="",
        max_length=1100,
        sa_column_kwargs={"server_default": ""},
        description="The decision's flags, space-separated",
    )
    reported_at: datetime | None = Field(
        default=None, description="The edge's own time, where the hub counted the event at its own"
    )

    @property
    def snapshot(self) -> bool:
        """Whether its edge kept a picture of this decision (docs/evidence.md)."""
        return SNAPSHOT_FLAG in self.flags.split()


class Entry(EntryBase, table=True):
    __table_args__ = (
        Index("entry_time", "occurred_at", "event_id"),
        Index("entry_subject", "subject_id", "occurred_at"),
        # Plates, whole or by prefix; the pattern operators let PostgreSQL use it for LIKE
        # under any collation.
        Index(
            "entry_credential",
            "credential_ref",
            "occurred_at",
            postgresql_ops={"credential_ref": "varchar_pattern_ops"},
        ),
    )

    occurred_at: datetime = Field(sa_column=utc_column())
    seq: int = Field(sa_column=seq_column())
    reported_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    counted: bool = Field(
        default=True,
        sa_column_kwargs={"server_default": sa.true()},
        description="False: dated outside any possible time, left out of occupancy and analytics",
    )


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
    occurred_at: datetime = Field(sa_column=utc_column(index=True))
    reported_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class DeadLetter(SQLModel, table=True):
    """A payload the hub could not accept, kept with the reason instead of being dropped.

    Edges re-send what the hub does not confirm, so the same bytes arrive again and again:
    one row per distinct payload, counting its arrivals.
    """

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True, description="SHA-256 of the payload")
    received_at: datetime = Field(sa_column=utc_column(index=True))
    last_seen_at: datetime = Field(sa_column=utc_column())
    count: int = 1
    topic: str = Field(max_length=512)
    reason: str = Field(max_length=32)
    detail: str = Field(max_length=1000)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class VehicleStay(SQLModel, table=True):
    """A temporary vehicle's stay (临停): from the entry of a plate that is not a resident's
    to its exit, like a parking ticket."""

    __table_args__ = (Index("vehiclestay_open", "compound_id", "plate", "exited_at"),)

    id: int | None = Field(default=None, primary_key=True)
    compound_id: str = Field(max_length=64)
    plate: str = Field(max_length=16)
    subject_kind: str = Field(max_length=16)
    entry_event_id: uuid.UUID = Field(unique=True)
    entered_at: datetime = Field(sa_column=utc_column())
    entry_gate: str = Field(max_length=64)
    exit_event_id: uuid.UUID | None = Field(default=None, unique=True)
    exited_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    exit_gate: str | None = Field(default=None, max_length=64)
