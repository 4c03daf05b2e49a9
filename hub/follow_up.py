"""What the hub does with events once they are stored: count the pass entries that edges
granted without the hub (and flag a pass used beyond its limit across gates), keep the stays
of temporary vehicles, and pick the alarms community officers must see at once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub import crud
from hub.tables import PassEntry, VehicleStay, VisitorPass, utcnow
from models.events import (
    AlarmEvent,
    Direction,
    EdgeEvent,
    EntryEvent,
    Method,
    OfficerAlert,
    Outcome,
    SubjectKind,
)

OFFICER_CODES = frozenset({"watchlist_hit", "duress", "emergency_open", "fire_release"})


def count_offline_entries(session: Session, events: Sequence[EdgeEvent]) -> None:
    """Count the pass entries no edge counted at the hub before opening (granted while cut
    off), in the transaction that stores their events, so each is counted exactly once."""
    for event in events:
        if not isinstance(event, EntryEvent) or (pass_id := _pass_entered(event)) is None:
            continue
        if session.get(PassEntry, event.event_id) is not None:
            continue  # counted online, before the gate opened
        row = session.get(VisitorPass, pass_id)
        if row is None or row.compound_id != event.compound_id:
            continue
        session.execute(
            update(VisitorPass)
            .where(col(VisitorPass.id) == pass_id)
            .values(entries_used=col(VisitorPass.entries_used) + 1)
            .execution_options(synchronize_session=False)
        )
        session.add(
            PassEntry(event_id=event.event_id, pass_id=pass_id, online=False, counted_at=utcnow())
        )
        session.flush()
        session.refresh(row)
        if row.entries_used > row.max_entries:
            crud.raise_hub_alarm(
                session=session,
                code="pass_overused",
                severity="warning",
                text=f"Pass {row.id}: entry {row.entries_used} of {row.max_entries}, granted"
                f" offline at gate {event.gate_id} (event {event.event_id}).",
                edge_id=event.position.edge_id,
            )


def record_vehicle_stays(session: Session, events: Sequence[EdgeEvent]) -> None:
    """Open a stay when a plate that is not a resident's or staff's is let in, close the
    newest stay that began before a granted exit of that plate (events may arrive late and out
    of order); a plate that leaves without an open stay has none to close."""
    for event in sorted(
        (e for e in events if isinstance(e, EntryEvent) and _temporary_vehicle(e)),
        key=lambda e: e.occurred_at,
    ):
        plate = event.credential.reference or ""
        open_stay = session.exec(
            select(VehicleStay)
            .where(
                col(VehicleStay.compound_id) == event.compound_id,
                col(VehicleStay.plate) == plate,
                col(VehicleStay.exited_at).is_(None),
                col(VehicleStay.entered_at) <= event.occurred_at,
            )
            .order_by(col(VehicleStay.entered_at).desc())
        ).first()
        if event.direction is Direction.IN and open_stay is None:
            session.add(
                VehicleStay(
                    compound_id=event.compound_id,
                    plate=plate,
                    subject_kind=event.subject.kind.value,
                    entry_event_id=event.event_id,
                    entered_at=event.occurred_at,
                    entry_gate=event.gate_id,
                )
            )
        elif event.direction is Direction.OUT and open_stay is not None:
            open_stay.exit_event_id = event.event_id
            open_stay.exited_at = event.occurred_at
            open_stay.exit_gate = event.gate_id
            session.add(open_stay)
        session.flush()


def _temporary_vehicle(event: EntryEvent) -> bool:
    return (
        event.credential.method is Method.PLATE
        and event.credential.reference is not None
        and event.decision.outcome is Outcome.GRANTED
        and event.subject.kind not in (SubjectKind.RESIDENT, SubjectKind.STAFF)
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


def _pass_entered(event: EntryEvent) -> str | None:
    """The pass a granted visitor's entry used, if it used one."""
    on_a_pass = (
        event.decision.outcome is Outcome.GRANTED
        and event.direction is Direction.IN
        and event.subject.kind is SubjectKind.VISITOR
        and event.credential.method in (Method.QR, Method.PLATE)
    )
    return event.subject.id if on_a_pass else None
