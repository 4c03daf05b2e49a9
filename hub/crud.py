"""Reads and writes of the hub's tables: keyword-only functions taking a Session.

The MQTT ingest and the HTTP routes both come through here.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, tuple_
from sqlmodel import Session, col, select

from hub.errors import BadCursor
from hub.tables import Alarm, DeadLetter, Edge, Entry, Receipt, as_utc, utcnow
from models.events import AlarmEvent, EdgeEvent, EdgeStatus, EntryEvent, Outcome


@dataclass
class StoreResult:
    stored: list[EdgeEvent] = field(default_factory=list)
    duplicates: list[EdgeEvent] = field(default_factory=list)
    conflicts: list[EdgeEvent] = field(default_factory=list)

    @property
    def confirmed(self) -> list[EdgeEvent]:
        """Everything the hub now holds durably, and may tell the edge to forget."""
        return self.stored + self.duplicates + self.conflicts


def register_edge(*, session: Session, edge_id: str, compound_id: str, public_key: str) -> Edge:
    edge = session.get(Edge, edge_id) or Edge(
        edge_id=edge_id, compound_id=compound_id, public_key=""
    )
    edge.compound_id = compound_id
    edge.public_key = public_key
    session.add(edge)
    return edge


def get_edge(*, session: Session, edge_id: str) -> Edge | None:
    return session.get(Edge, edge_id)


def list_edges(*, session: Session) -> Sequence[Edge]:
    return session.exec(select(Edge).order_by(col(Edge.edge_id))).all()


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
    session.add(edge)
    return True


def store_events(*, session: Session, events: Sequence[EdgeEvent]) -> StoreResult:
    """Add the events not seen before; sort the rest into duplicates and position conflicts.

    A duplicate has an `event_id` already stored (the edge re-sent it). A conflict has a new
    `event_id` at a position already taken: something is wrong at that edge, and the caller
    must raise an alarm and keep the payload.
    """
    known_ids, known_positions = _known(session, events)
    result = StoreResult()
    for event in events:
        position = _position_key(event)
        if event.event_id in known_ids:
            result.duplicates.append(event)
        elif position in known_positions:
            result.conflicts.append(event)
        else:
            known_ids.add(event.event_id)
            known_positions.add(position)
            session.add(_receipt(event))
            session.add(_row(event))
            result.stored.append(event)
    return result


def add_dead_letter(
    *, session: Session, topic: str, reason: str, detail: str, payload: bytes
) -> None:
    session.add(
        DeadLetter(
            received_at=utcnow(),
            topic=topic[:512],
            reason=reason,
            detail=detail[:1000],
            payload=payload,
        )
    )


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
    rows = session.exec(
        select(DeadLetter.reason, func.count()).group_by(col(DeadLetter.reason))
    ).all()
    return {reason: int(count) for reason, count in rows}


@dataclass(frozen=True)
class EntryFilter:
    since: datetime | None = None
    until: datetime | None = None
    gate_id: str | None = None
    method: str | None = None
    outcome: str | None = None


def list_entries(
    *, session: Session, filters: EntryFilter, limit: int, cursor: str | None = None
) -> tuple[Sequence[Entry], str | None]:
    """Newest first, keyset-paged on (occurred_at, event_id)."""
    query = select(Entry)
    for clause in _entry_clauses(filters):
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


def occupancy(*, session: Session) -> dict[str, int]:
    """People inside now: those whose latest granted passage was inward."""
    latest = (
        select(col(Entry.subject_id), func.max(Entry.occurred_at).label("last_at"))
        .where(col(Entry.outcome) == Outcome.GRANTED.value, col(Entry.subject_id).is_not(None))
        .group_by(col(Entry.subject_id))
        .subquery()
    )
    query = (
        select(Entry.subject_kind, func.count(func.distinct(Entry.subject_id)))
        .join(
            latest,
            and_(
                col(Entry.subject_id) == latest.c.subject_id,
                col(Entry.occurred_at) == latest.c.last_at,
            ),
        )
        .where(col(Entry.direction) == "in", col(Entry.outcome) == Outcome.GRANTED.value)
        .group_by(col(Entry.subject_kind))
    )
    return {kind: int(count) for kind, count in session.exec(query).all()}


def encode_cursor(entry: Entry) -> str:
    raw = f"{as_utc(entry.occurred_at).isoformat()}|{entry.event_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(event_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API issued") from exc


def _entry_clauses(filters: EntryFilter) -> list[object]:
    clauses: list[object] = []
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
    return clauses


def _position_key(event: EdgeEvent) -> tuple[str, uuid.UUID, int]:
    return (event.position.edge_id, event.position.epoch, event.position.seq)


def _known(
    session: Session, events: Sequence[EdgeEvent]
) -> tuple[set[uuid.UUID], set[tuple[str, uuid.UUID, int]]]:
    if not events:
        return set(), set()
    ids = [e.event_id for e in events]
    known_ids = set(session.exec(select(Receipt.event_id).where(col(Receipt.event_id).in_(ids))))
    positions = [_position_key(e) for e in events]
    rows = session.exec(
        select(Receipt.edge_id, Receipt.epoch, Receipt.seq).where(
            tuple_(col(Receipt.edge_id), col(Receipt.epoch), col(Receipt.seq)).in_(positions)
        )
    ).all()
    return known_ids, {(edge, epoch, seq) for edge, epoch, seq in rows}


def _receipt(event: EdgeEvent) -> Receipt:
    return Receipt(
        event_id=event.event_id,
        edge_id=event.position.edge_id,
        epoch=event.position.epoch,
        seq=event.position.seq,
        kind=event.kind,
        received_at=utcnow(),
    )


def _row(event: EdgeEvent) -> Entry | Alarm:
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
        )
    return _entry_row(event)


def _entry_row(event: EntryEvent) -> Entry:
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
        outcome=event.decision.outcome.value,
        reason_code=event.decision.reason_code,
        reason=event.decision.reason,
    )
