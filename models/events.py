"""Entry events, alarm events and the confirmations the hub returns.

Version 1. Later versions may only add optional fields, so a hub accepts every version it
has seen. An event carries no face image and no template: evidence is a reference and a score.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
KNOWN_VERSIONS = frozenset({1})

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # pydantic reports only ValueError as a validation error
        raise ValueError("time out of range once converted to UTC") from exc


# Bidirectional embeddings, overrides and isolates: they make a plate or a name read
# differently from what it holds (the left-to-right and right-to-left marks stay allowed).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _controlling(char: str) -> bool:
    code = ord(char)
    return (
        (code < 32 and char not in "\t\n")  # C0, but tab and newline
        or 0x7F <= code <= 0x9F  # DEL and C1
        or 0xD800 <= code <= 0xDFFF  # a lone surrogate: no character at all
        or char in BIDI_CONTROLS
    )


def has_control_characters(value: str) -> bool:
    """Control characters (C0 but tab and newline, DEL, C1), lone surrogates and bidi
    overrides: refused in any free text."""
    return any(_controlling(char) for char in value)


def _no_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("control characters are not allowed")
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _plausible(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("a time between the years 2000 and 2100, please")
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


# An IANA time zone name that this machine knows ("Asia/Shanghai").
ZoneName = Annotated[str, AfterValidator(_known_zone)]


# A time a person asks about (a search, a scan, a chart): far-off years are refused up front
# rather than overflowing the arithmetic done with them.
Moment = Annotated[UtcDatetime, AfterValidator(_plausible)]
Text = Annotated[str, AfterValidator(_no_control_characters)]


class Contract(BaseModel):
    """Base of every payload: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class SubjectKind(StrEnum):
    RESIDENT = "resident"
    VISITOR = "visitor"
    STAFF = "staff"
    UNKNOWN = "unknown"


class Method(StrEnum):
    FACE = "face"
    PLATE = "plate"
    CARD = "card"
    PIN = "pin"
    QR = "qr"
    REMOTE = "remote"


class Outcome(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Position(Contract):
    """Where an event sits in its edge's stream: `seq` counts up within one `epoch`.

    An edge that starts with a fresh outbox picks a new epoch, so a reset `seq` is never
    mistaken for a replay of old events.
    """

    edge_id: Identifier
    epoch: UUID
    seq: int = Field(ge=1, le=2**63 - 1)


class Subject(Contract):
    kind: SubjectKind
    id: Identifier | None = None


class Credential(Contract):
    """What was presented. `reference` names it (a card number, a plate, a pass id), never a
    PIN, a face crop or a template; `score` is the matcher's distance or confidence where one
    applies; for a face, `margin` over the second-best person, whether it looked `live`, and
    the identifying frame's `quality` (the face's sharpness)."""

    method: Method
    reference: Text | None = Field(default=None, max_length=128)
    score: float | None = None
    margin: float | None = None
    live: bool | None = None
    quality: float | None = None


class Decision(Contract):
    """`flags` qualify a decision without changing it: `clock_untrusted` (a time rule was
    applied with a clock the edge could not check), `registry_stale`, `offline_limit` (a
    cross-gate limit checked on this edge alone), `passback` (soft anti-passback let it
    through), `watchlist` (let through, with an alert), `offline_passback` (anti-passback
    checked on this edge alone), `face_confirmed` / `face_mismatch` (a card or PIN after a
    face sent to the second factor: the face was, or was not, the holder's)."""

    outcome: Outcome
    reason_code: Identifier
    reason: Text = Field(max_length=500)
    flags: tuple[Identifier, ...] = Field(default=(), max_length=16)


class EntryEvent(Contract):
    kind: Literal["entry"] = "entry"
    event_id: UUID
    position: Position
    compound_id: Identifier
    gate_id: Identifier
    lane: Identifier
    direction: Direction
    occurred_at: UtcDatetime
    subject: Subject
    credential: Credential
    decision: Decision


class AlarmEvent(Contract):
    kind: Literal["alarm"] = "alarm"
    event_id: UUID
    position: Position
    compound_id: Identifier
    gate_id: Identifier | None = None
    occurred_at: UtcDatetime
    code: Identifier
    severity: Severity
    text: Text = Field(max_length=1000)


EdgeEvent = Annotated[EntryEvent | AlarmEvent, Field(discriminator="kind")]


class Confirmation(Contract):
    """Sent by the hub to one edge: these events are committed; the edge may forget them."""

    edge_id: Identifier
    event_ids: list[UUID] = Field(max_length=10_000)


class OutboxHealth(Contract):
    """The edge's backlog: events not yet confirmed by the hub, and the oldest one's age."""

    rows: int = Field(ge=0)
    capacity: int = Field(ge=1)
    oldest_age_s: float | None = None
    refused: int = Field(0, ge=0, description="Events not recorded since start (full, disk error)")


class AuditHead(Contract):
    """The hub's audit chain as it last said it was: its newest record and that record's
    link. Edges keep the newest they have heard and say it back in their status, so the
    chain's head is known beyond the hub's database: a chain whose tail was cut (the newest
    records deleted, which leaves a shorter valid chain) no longer holds it."""

    record: int = Field(ge=1, le=2**63 - 1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class EdgeStatus(Contract):
    """Retained on the edge's status topic; the broker publishes the `offline` Last Will."""

    edge_id: Identifier
    online: bool
    at: UtcDatetime
    outbox: OutboxHealth | None = None
    registry_version: int | None = None
    registry_age_s: float | None = Field(None, description="Since the last successful sync")
    registry_stale: bool | None = None
    clock_offset_s: float | None = Field(None, description="Hub clock minus edge clock")
    clock_trusted: bool | None = None
    face_engine: Identifier | None = Field(None, description="The engine the face lanes run")
    faces_skipped: dict[Identifier, int] | None = Field(
        None, description="Face records of engines this edge lacks, by engine: not matched"
    )
    audit_head: AuditHead | None = Field(
        None, description="The newest head of the hub's audit chain this edge has heard"
    )


class OfficerAlert(Contract):
    """Published by the hub on the compound's officers' topic for what officers must see at
    once (a watchlist hit, a duress PIN); the alarm event it comes from is in the log."""

    compound_id: Identifier
    event_id: UUID
    gate_id: Identifier | None = None
    occurred_at: UtcDatetime
    code: Identifier
    severity: Severity
    text: Text = Field(max_length=1000)


class HubStatus(Contract):
    """Retained on the hub's status topic; when it turns online, edges re-send at once what
    they were holding back, instead of waiting out their confirmation timeouts. It carries
    the audit chain's head, published again every minute while the hub runs."""

    online: bool
    at: UtcDatetime
    audit_head: AuditHead | None = None
