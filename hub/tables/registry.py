"""The registry: the compound, its buildings, units and gates, the people who live and work
there, and their credentials. Every change bumps the compound's registry version and is logged
in `RegistryChange`, from which edges pull their deltas."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.tables.common import utc_column, utcnow


class Compound(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    registry_version: int = 0
    pin_pepper: bytes = Field(
        sa_column=Column(LargeBinary, nullable=False),
        description="Key of the PIN digests, encrypted with the hub's secret keys",
    )
    issuer_key: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary, nullable=True),
        description="Ed25519 key signing QR passes and gate commands, encrypted like the pepper",
    )
    face_engines: str = Field(
        default='[{"type": "dlib"}]',
        sa_column=Column(Text, nullable=False, server_default='[{"type": "dlib"}]'),
        description="The template engines enrolment encodes for (JSON list of engine settings)",
    )
    face_fpir_limit: float = Field(
        default=0.01, description="The risk gate: a face alone opens only under this FPIR bound"
    )
    in_service_since: datetime = Field(
        default_factory=utcnow,
        sa_column=utc_column(),
        description="When the compound's gates began deciding: no event is dated before it",
    )


class Building(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    name: str = Field(max_length=100)


class Unit(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    building_id: str = Field(foreign_key="building.id", max_length=64)
    label: str = Field(max_length=50)


class Gate(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16, description="pedestrian or vehicle")
    building_id: str | None = Field(default=None, foreign_key="building.id", max_length=64)


class Person(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    kind: str = Field(max_length=16, description="resident, staff or visitor")
    unit_id: str | None = Field(default=None, foreign_key="unit.id", index=True, max_length=64)
    display_name: str = Field(max_length=100)


class Card(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("compound_id", "number"),)

    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=64)
    number: str = Field(max_length=20)
    valid_from: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    valid_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Pin(SQLModel, table=True):
    """A PIN, kept only as a keyed digest (HMAC-SHA-256 with the compound's PIN pepper)."""

    __table_args__ = (UniqueConstraint("compound_id", "digest"),)

    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=64)
    digest: str = Field(max_length=64)
    duress: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa.false()},
        description="Opens normally and raises a silent alarm",
    )


class Plate(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("compound_id", "number"),)

    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", max_length=64)
    person_id: str | None = Field(default=None, foreign_key="person.id", index=True, max_length=64)
    number: str = Field(max_length=10, description="Normalised, without separator: 鲁C12345")
    parking_slot: str | None = Field(default=None, max_length=32)


class VisitorPass(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    unit_id: str = Field(foreign_key="unit.id", index=True, max_length=64)
    visitor_name: str = Field(max_length=100)
    valid_from: datetime = Field(sa_column=utc_column())
    valid_until: datetime = Field(sa_column=utc_column())
    max_entries: int = 1
    plate: str | None = Field(default=None, max_length=10)
    created_by: str = Field(max_length=64)
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    entries_used: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="Entries counted by the hub, online or (later) from offline grants",
    )


class PassEntry(SQLModel, table=True):
    """An entry counted against a pass, by the entry event's id: counted once, whether an edge
    asked before opening (online) or its event arrived later (granted offline)."""

    event_id: uuid.UUID = Field(primary_key=True)
    pass_id: str = Field(foreign_key="visitorpass.id", index=True, max_length=64)
    online: bool
    counted_at: datetime = Field(sa_column=utc_column())


class WatchlistEntry(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    kind: str = Field(max_length=16, description="plate or person")
    value: str = Field(max_length=64)
    action: str = Field(max_length=16, description="deny, or alert (let through and alert)")
    reason: str = Field(max_length=500)
    created_by: str = Field(max_length=64)


class RegistryChange(SQLModel, table=True):
    """One row per change: edges pull what changed since the version they hold."""

    __table_args__ = (Index("registry_change_since", "compound_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    compound_id: str = Field(max_length=64)
    version: int
    record_kind: str = Field(max_length=16)
    record_id: str = Field(max_length=64)
    op: str = Field(max_length=8)
    at: datetime = Field(sa_column=utc_column())


MAX_DOCUMENT_REF = 200  # a signed consent form's reference


class FaceConsent(SQLModel, table=True):
    """Consent to face recognition (PIPL; the 2025 measures): who gave it, for a minor the
    guardian, who recorded it; withdrawn consent deletes the person's templates."""

    id: int | None = Field(default=None, primary_key=True)
    compound_id: str = Field(foreign_key="compound.id", max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=64)
    minor: bool
    given_by: str = Field(max_length=16, description="self, or guardian for a minor")
    guardian_name: str | None = Field(default=None, max_length=100)
    document_ref: str | None = Field(default=None, max_length=MAX_DOCUMENT_REF)
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_column=utc_column())
    withdrawn_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class FaceTemplate(SQLModel, table=True):
    """A face template, encrypted with the hub's secret keys; the photo was never stored."""

    id: str = Field(primary_key=True, max_length=64)
    compound_id: str = Field(foreign_key="compound.id", index=True, max_length=64)
    person_id: str = Field(foreign_key="person.id", index=True, max_length=64)
    engine: str = Field(default="dlib", max_length=64, description="The template engine's key")
    consent_id: int = Field(foreign_key="faceconsent.id")
    template: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=utc_column())
