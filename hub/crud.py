"""Reads and writes of the hub's tables: keyword-only functions taking a Session.

The MQTT ingest and the HTTP routes both come through here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, tuple_
from sqlmodel import Session, col, select

from hub.errors import BadCursor, Conflict
from hub.event_time import Placed
from hub.tables import Alarm, DeadLetter, Edge, Entry, Receipt, as_utc, utcnow
from models.events import AlarmEvent, EdgeEvent, EdgeStatus, EntryEvent, Method
from models.signing import MAX_PAYLOAD_BYTES

Position = tuple[str, uuid.UUID, int]


@dataclass(frozen=True)
class EventConflict:
    """An event that contradicts what the hub holds; it is kept aside, never merged."""

    event: EdgeEvent
    code: str
    text: str


@dataclass
class StoreResult:
    stored: list[EdgeEvent] = field(default_factory=list)
    duplicates: list[EdgeEvent] = field(default_factory=list)
    conflicts: list[EventConflict] = field(default_factory=list)

    @property
    def confirmed(self) -> list[EdgeEvent]:
        """Everything the hub now holds durably, and may tell the edge to forget."""
        return self.stored + self.duplicates + [c.event for c in self.conflicts]


def register_edge(*, session: Session, edge_id: str, compound_id: str, public_key: str) -> Edge:
    """Register an edge, or give a known one a new key (its old token stops working)."""
    edge = session.get(Edge, edge_id)
    if edge is None:
        edge = Edge(edge_id=edge_id, compound_id=compound_id, public_key="")
    elif edge.compound_id != compound_id:
        raise Conflict(f"edge {edge_id} belongs to compound {edge.compound_id}")
    edge.public_key = public_key
    edge.token_hash = None
    session.add(edge)
    return edge


def get_edge(*, session: Session, edge_id: str) -> Edge | None:
    return session.get(Edge, edge_id)


def list_edges(*, session: Session, compound_id: str | None = None) -> Sequence[Edge]:
    query = select(Edge).order_by(col(Edge.edge_id))
    if compound_id is not None:
        query = query.where(col(Edge.compound_id) == compound_id)
    return session.exec(query).all()


def record_status(*, session: Session, status: EdgeStatus) -> bool:
    """Take the edge's latest status. The broker keeps each status topic in order, and a Last
    Will carries the time its edge connected, so `status_at` is when the hub heard it."""
    edge = session.get(Edge, status.edge_id)
    if edge is None:
        return False
    edge.online = status.online
    edge.status_at = utcnow()
    if status.outbox is not None:
        edge.outbox_rows = status.outbox.rows
        edge.outbox_oldest_age_s = status.outbox.oldest_age_s
        edge.outbox_refused = status.outbox.refused
    edge.registry_version = status.registry_version
    edge.registry_age_s = status.registry_age_s
    edge.registry_stale = status.registry_stale
    edge.clock_offset_s = status.clock_offset_s
    edge.clock_trusted = status.clock_trusted
    if status.audit_head is not None:  # the edge keeps the newest it heard
        edge.audit_head_record = status.audit_head.record
        edge.audit_head_hash = status.audit_head.hash
    session.add(edge)
    return True


def store_events(*, session: Session, events: Sequence[EdgeEvent | Placed]) -> StoreResult:
    """Add the events not seen before; sort the rest into duplicates and conflicts. An event
    the ingest placed in time (`hub.event_time`) is stored as placed: dated as counted, its
    edge's own time beside it.

    A duplicate is an `event_id` already stored at the same position (the edge re-sent it).
    A conflict is a new `event_id` at a taken position, or a known `event_id` at another
    position: something is wrong at that edge, and the caller must alarm and keep the payload.
    """
    placements = [item if isinstance(item, Placed) else Placed(item) for item in events]
    positions_by_id, taken = _known(session, [p.event for p in placements])
    result = StoreResult()
    for placed in placements:
        event = placed.event
        position = _position_key(event)
        held_at = positions_by_id.get(event.event_id)
        if held_at == position:
            result.duplicates.append(event)
        elif held_at is not None:
            result.conflicts.append(_conflict(event, "event_id_reused", f"held at {held_at}"))
        elif position in taken:
            result.conflicts.append(_conflict(event, "position_conflict", "position taken"))
        else:
            positions_by_id[event.event_id] = position
            taken.add(position)
            session.add(_receipt(event))
            session.add(_row(placed))
            result.stored.append(event)
    return result


def _conflict(event: EdgeEvent, code: str, why: str) -> EventConflict:
    p = event.position
    text = f"Edge {p.edge_id} sent event {event.event_id} at {p.epoch}/{p.seq}: {why}."
    return EventConflict(event=event, code=code, text=text)


def add_dead_letter(
    *, session: Session, topic: str, reason: str, detail: str, payload: bytes
) -> bool:
    """Keep `payload` with the reason; True the first time these bytes arrive."""
    digest = hashlib.sha256(payload).hexdigest()
    known = session.exec(select(DeadLetter).where(col(DeadLetter.digest) == digest)).first()
    now = utcnow()
    if known is not None:
        known.count += 1
        known.last_seen_at = now
        session.add(known)
        return False
    session.add(
        DeadLetter(
            digest=digest,
            received_at=now,
            last_seen_at=now,
            topic=topic[:512],
            reason=reason,
            detail=_printable(detail)[:1000],
            payload=payload[:MAX_PAYLOAD_BYTES],
        )
    )
    return True


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def raise_hub_alarm(
    *, session: Session, code: str, severity: str, text: str, edge_id: str | None = None
) -> None:
    session.add(
        Alarm(
            source="hub",
            edge_id=edge_id,
            code=code,
            severity=severity,
            text=text,
            occurred_at=utcnow(),
        )
    )


def count_dead_letters(*, session: Session) -> dict[str, int]:
    """Arrivals of rejected payloads by reason (a re-sent payload counts each time)."""
    rows = session.exec(
        select(DeadLetter.reason, func.sum(DeadLetter.count)).group_by(col(DeadLetter.reason))
    ).all()
    return {reason: int(count) for reason, count in rows}


@dataclass(frozen=True)
class EntryFilter:
    compound_id: str
    subject_ids: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    gate_id: str | None = None
    method: str | None = None
    outcome: str | None = None
    subject_id: str | None = None
    plate: str | None = None
    plate_prefix: str | None = None


def list_entries(
    *, session: Session, filters: EntryFilter, limit: int, cursor: str | None = None
) -> tuple[Sequence[Entry], str | None]:
    """Newest first, keyset-paged on (occurred_at, event_id)."""
    query = select(Entry)
    for clause in _entry_clauses(filters, session.get_bind().dialect.name):
        query = query.where(clause)
    if cursor is not None:
        at, event_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Entry.occurred_at) < at,
                and_(col(Entry.occurred_at) == at, col(Entry.event_id) < event_id),
            )
        )
    query = query.order_by(col(Entry.occurred_at).desc(), col(Entry.event_id).desc())
    rows = session.exec(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]) if more else None
    return rows, next_cursor


def last_passage(*, session: Session, compound_id: str, subject_id: str) -> Entry | None:
    """`subject_id`'s latest granted entry at any gate of the compound."""
    return session.exec(
        select(Entry)
        .where(
            col(Entry.compound_id) == compound_id,
            col(Entry.subject_id) == subject_id,
            col(Entry.outcome) == "granted",
        )
        .order_by(col(Entry.occurred_at).desc())
        .limit(1)
    ).first()


def iter_entries(*, session: Session, filters: EntryFilter, limit: int) -> Iterator[Entry]:
    """Every matching entry, newest first, fetched a keyset page at a time."""
    cursor: str | None = None
    left = limit
    while left > 0:
        rows, cursor = list_entries(
            session=session, filters=filters, limit=min(left, 1000), cursor=cursor
        )
        yield from rows
        left -= len(rows)
        if cursor is None:
            return


def encode_cursor(entry: Entry) -> str:
    raw = f"{as_utc(entry.occurred_at).isoformat()}|{entry.event_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(event_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API issued") from exc


def _entry_clauses(filters: EntryFilter, dialect: str) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [col(Entry.compound_id) == filters.compound_id]
    if filters.subject_ids is not None:
        clauses.append(col(Entry.subject_id).in_(filters.subject_ids))
    if filters.since is not None:
        clauses.append(col(Entry.occurred_at) >= filters.since)
    if filters.until is not None:
        clauses.append(col(Entry.occurred_at) < filters.until)
    for column, value in (
        (Entry.gate_id, filters.gate_id),
        (Entry.method, filters.method),
        (Entry.outcome, filters.outcome),
    ):
        if value is not None:
            clauses.append(col(column) == value)
    return clauses + _who_clauses(filters, dialect)


def _who_clauses(filters: EntryFilter, dialect: str) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.subject_id is not None:
        clauses.append(col(Entry.subject_id) == filters.subject_id)
    if filters.plate is not None or filters.plate_prefix is not None:
        clauses.append(col(Entry.method) == Method.PLATE.value)
    if filters.plate is not None:
        clauses.append(col(Entry.credential_ref) == filters.plate)
    if filters.plate_prefix is not None:
        clauses.append(_starts_with(col(Entry.credential_ref), filters.plate_prefix, dialect))
    return clauses


def _starts_with(column: Any, prefix: str, dialect: str) -> Any:
    """A prefix search that can use the plate index: SQLite's LIKE ignores case and so
    cannot, its GLOB can; PostgreSQL's LIKE can, with the pattern-operator index. The prefix
    holds letters, digits and Chinese characters only (the API checks), so nothing needs
    escaping."""
    if dialect == "sqlite":
        return column.op("GLOB")(f"{prefix}*")
    return column.like(f"{prefix}%")


def _position_key(event: EdgeEvent) -> Position:
    return (event.position.edge_id, event.position.epoch, event.position.seq)


def _known(
    session: Session, events: Sequence[EdgeEvent]
) -> tuple[dict[uuid.UUID, Position], set[Position]]:
    """The stored positions of these events' ids, and which of their positions are taken."""
    if not events:
        return {}, set()
    columns = (col(Receipt.event_id), col(Receipt.edge_id), col(Receipt.epoch), col(Receipt.seq))
    by_id = session.exec(
        select(*columns).where(col(Receipt.event_id).in_([e.event_id for e in events]))
    ).all()
    by_position = session.exec(
        select(*columns).where(tuple_(*columns[1:]).in_([_position_key(e) for e in events]))
    ).all()
    return (
        {event_id: (edge, epoch, seq) for event_id, edge, epoch, seq in by_id},
        {(edge, epoch, seq) for _, edge, epoch, seq in by_position},
    )


def _receipt(event: EdgeEvent) -> Receipt:
    return Receipt(
        event_id=event.event_id,
        edge_id=event.position.edge_id,
        epoch=event.position.epoch,
        seq=event.position.seq,
        kind=event.kind,
        received_at=utcnow(),
    )


def _row(placed: Placed) -> Entry | Alarm:
    event = placed.event
    if isinstance(event, AlarmEvent):
        return Alarm(
            event_id=event.event_id,
            source="edge",
            edge_id=event.position.edge_id,
            compound_id=event.compound_id,
            gate_id=event.gate_id,
            code=event.code,
            severity=event.severity.value,
            text=event.text,
            occurred_at=event.occurred_at,
            reported_at=placed.reported_at,
        )
    return entry_row(event, placed.reported_at, counted=placed.counted)


def entry_row(
    event: EntryEvent, reported_at: datetime | None = None, *, counted: bool = True
) -> Entry:
    return Entry(
        event_id=event.event_id,
        edge_id=event.position.edge_id,
        epoch=event.position.epoch,
        seq=event.position.seq,
        compound_id=event.compound_id,
        gate_id=event.gate_id,
        lane=event.lane,
        direction=event.direction.value,
        occurred_at=event.occurred_at,
        subject_kind=event.subject.kind.value,
        subject_id=event.subject.id,
        method=event.credential.method.value,
        credential_ref=event.credential.reference,
        score=event.credential.score,
        margin=event.credential.margin,
        live=event.credential.live,
        quality=event.credential.quality,
        outcome=event.decision.outcome.value,
        reason_code=event.decision.reason_code,
        reason=event.decision.reason,
        flags=" ".join(event.decision.flags),
        reported_at=reported_at,
        counted=counted,
    )
