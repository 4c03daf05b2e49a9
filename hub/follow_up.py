"""What the hub does with events once they are stored: count the pass entries edges granted
while cut off from the hub (and flag a pass used beyond its limit across gates), and pick
the alarms community officers must see at once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from hub import crud
from hub.tables import VisitorPass
from models.events import (
    AlarmEvent,
    Direction,
    EdgeEvent,
    EntryEvent,
    OfficerAlert,
    Outcome,
    SubjectKind,
)

OFFICER_CODES = frozenset({"watchlist_hit", "duress", "emergency_open", "fire_release"})


def count_offline_entries(session: Session, events: Sequence[EdgeEvent]) -> None:
    """In the transaction that stores `events`, so each entry is counted exactly once."""
    for event in events:
        if not isinstance(event, EntryEvent) or (pass_id := _offline_pass(event)) is None:
            continue
        row = session.get(VisitorPass, pass_id)
        if row is None or row.compound_id != event.compound_id:
            continue
        row.entries_used += 1
        session.add(row)
        if row.entries_used > row.max_entries:
            crud.raise_hub_alarm(
                session=session,
                code="pass_overused",
                severity="warning",
                text=f"Pass {row.id}: entry {row.entries_used} of {row.max_entries}, granted"
                f" offline at gate {event.gate_id} (event {event.event_id}).",
                edge_id=event.position.edge_id,
            )


def officer_alerts(events: Sequence[EdgeEvent]) -> list[OfficerAlert]:
    return [
        OfficerAlert(
            compound_id=e.compound_id,
            event_id=e.event_id,
            gate_id=e.gate_id,
            occurred_at=e.occurred_at,
            code=e.code,
            severity=e.severity,
            text=e.text,
        )
        for e in events
        if isinstance(e, AlarmEvent) and e.code in OFFICER_CODES
    ]


def _offline_pass(event: EntryEvent) -> str | None:
    """The pass an entry used, if it was granted with the limit checked offline."""
    counted_offline = (
        event.decision.outcome is Outcome.GRANTED
        and "offline_limit" in event.decision.flags
        and event.direction is Direction.IN
        and event.subject.kind is SubjectKind.VISITOR
    )
    return event.subject.id if counted_offline else None
