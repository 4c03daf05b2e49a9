"""Occupancy: who and what is inside, now and over time, from granted passages.

The policy (docs/hub.md says the same to staff):
- People are counted from granted passages by face, card, PIN, QR or the guard's command, by
  person; vehicles from granted plate reads, by plate. A car's driver is not a person passage.
- The latest granted passage decides: inward means inside. An exit read for someone not
  inside (a missed entry) leaves them outside; nothing goes below zero.
- A missed exit is closed by presumption: someone whose latest passage is an entry counts as
  gone after `Presence` hours (visitors 24, staff 16, non-resident vehicles 72, residents 30
  days), so one missed read does not count a visitor inside for ever.
- Figures are computed from the log at the moment they are asked for, by each event's own
  time: events that arrive late from an edge that was offline take their place in the past,
  and the history is corrected the next time it is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from hub.analytics.policy import Presence
from hub.tables import Building, Entry, Person, Unit, VisitorPass, as_utc
from models.events import Method, Outcome, SubjectKind

PEOPLE_KINDS = (SubjectKind.RESIDENT, SubjectKind.VISITOR, SubjectKind.STAFF)


@dataclass(frozen=True)
class Passage:
    event_id: str
    key: str
    vehicle: bool
    kind: str
    inward: bool
    at: datetime


@dataclass(frozen=True)
class Count:
    at: datetime
    people: dict[str, int]
    vehicles: dict[str, int]

    @property
    def total_people(self) -> int:
        return sum(self.people.values())


@dataclass
class Tracker:
    """Who is inside, passage by passage."""

    presence: Presence
    inside: dict[str, Passage] = field(default_factory=dict)

    def apply(self, passage: Passage) -> None:
        if passage.inward:
            self.inside[passage.key] = passage
        else:
            self.inside.pop(passage.key, None)

    def present(self, at: datetime) -> list[Passage]:
        return [p for p in self.inside.values() if at - p.at < self.horizon(p)]

    def count(self, at: datetime) -> Count:
        here = self.present(at)
        people = Counter(p.kind for p in here if not p.vehicle)
        vehicles = Counter(_vehicle_class(p.kind) for p in here if p.vehicle)
        return Count(
            at=at,
            people={kind.value: people.get(kind.value, 0) for kind in PEOPLE_KINDS},
            vehicles={name: vehicles.get(name, 0) for name in ("resident", "other")},
        )

    def horizon(self, passage: Passage) -> timedelta:
        hours = {
            SubjectKind.RESIDENT.value: self.presence.resident_days * 24,
            SubjectKind.STAFF.value: self.presence.staff_hours,
        }.get(passage.kind, self.presence.visitor_hours)
        if passage.vehicle and passage.kind != SubjectKind.RESIDENT.value:
            hours = self.presence.vehicle_hours
        return timedelta(hours=hours)


def now(*, session: Session, compound_id: str, presence: Presence, at: datetime) -> Tracker:
    """The tracker holding who is inside at `at`, passages at `at` included."""
    tracker = Tracker(presence)
    look_back = at - timedelta(days=max(presence.resident_days, presence.vehicle_hours / 24))
    for passage in _latest(session, compound_id, look_back, at):
        tracker.apply(passage)
    return tracker


def series(
    *,
    session: Session,
    compound_id: str,
    presence: Presence,
    since: datetime,
    until: datetime,
    step: timedelta,
) -> list[Count]:
    """Counts at `since`, `since + step`, … up to `until`, each including passages at or
    before its time."""
    tracker = now(session=session, compound_id=compound_id, presence=presence, at=since)
    passages = iter(_between(session, compound_id, since, until))
    pending = next(passages, None)
    counts: list[Count] = []
    at = since
    while at <= until:
        while pending is not None and pending.at <= at:
            tracker.apply(pending)
            pending = next(passages, None)
        counts.append(tracker.count(at))
        at += step
    return counts


@dataclass(frozen=True)
class BuildingCount:
    building_id: str | None
    name: str
    people: int


def by_building(
    *, session: Session, compound_id: str, tracker: Tracker, at: datetime
) -> list[BuildingCount]:
    """People inside by the building of their unit (a visitor: their host's); a row with no
    building for people with no unit (staff, walk-ins)."""
    ids = [p.key.removeprefix("p:") for p in tracker.present(at) if not p.vehicle]
    home: dict[str, tuple[str, str]] = {}
    for holder in (Person, VisitorPass):  # a person's unit, or the host unit of a pass
        rows = session.exec(
            select(holder.id, Building.id, Building.name)
            .join(Unit, col(Unit.id) == col(holder.unit_id))
            .join(Building, col(Building.id) == col(Unit.building_id))
            .where(col(holder.compound_id) == compound_id, col(holder.id).in_(ids))
        ).all()
        home |= {who: (building, name) for who, building, name in rows}
    counts = Counter(home.get(person, (None, "—")) for person in ids)
    return [
        BuildingCount(building_id=building, name=name, people=n)
        for (building, name), n in sorted(counts.items(), key=lambda item: item[0][1])
    ]


_COLUMNS = (
    col(Entry.event_id),
    col(Entry.subject_id),
    col(Entry.credential_ref),
    col(Entry.subject_kind),
    col(Entry.direction),
    col(Entry.occurred_at),
)


def _granted(compound_id: str) -> list[ColumnElement[bool]]:
    """Granted, and dated where it can have happened (`hub.event_time`)."""
    return [
        col(Entry.compound_id) == compound_id,
        col(Entry.outcome) == Outcome.GRANTED.value,
        col(Entry.counted).is_(True),
    ]


def _latest(session: Session, compound_id: str, since: datetime, until: datetime) -> list[Passage]:
    """The latest granted passage of each person and each plate in [since, until]."""
    out: list[Passage] = []
    for vehicle in (False, True):
        key_column = col(Entry.credential_ref) if vehicle else col(Entry.subject_id)
        rank = (
            func.row_number()
            .over(
                partition_by=key_column,
                order_by=(col(Entry.occurred_at).desc(), col(Entry.event_id).desc()),
            )
            .label("rank")
        )
        ranked = (
            sqlalchemy.select(*_COLUMNS, rank)  # sqlmodel's select() types at most 4 columns
            .where(*_granted(compound_id), *_of_kind(vehicle))
            .where(col(Entry.occurred_at) >= since, col(Entry.occurred_at) <= until)
            .subquery()
        )
        rows = session.execute(sqlalchemy.select(ranked).where(ranked.c.rank == 1)).all()
        out += [_from_columns(row._mapping, vehicle) for row in rows]
    return sorted(out, key=lambda p: p.at)


def _between(session: Session, compound_id: str, since: datetime, until: datetime) -> list[Passage]:
    query = (
        select(Entry)
        .where(*_granted(compound_id))
        .where(col(Entry.occurred_at) > since, col(Entry.occurred_at) <= until)
        .order_by(col(Entry.occurred_at), col(Entry.event_id))
    )
    return list(_passages(session.exec(query).all()))


def _passages(rows: Sequence[Entry]) -> Iterable[Passage]:
    for row in rows:
        vehicle = row.method == Method.PLATE.value
        if (row.credential_ref if vehicle else row.subject_id) is not None:
            yield _from_columns(row.model_dump(), vehicle)


def _of_kind(vehicle: bool) -> list[ColumnElement[bool]]:
    if vehicle:
        return [col(Entry.method) == Method.PLATE.value, col(Entry.credential_ref).is_not(None)]
    return [col(Entry.method) != Method.PLATE.value, col(Entry.subject_id).is_not(None)]


def _from_columns(row: Mapping[Any, Any], vehicle: bool) -> Passage:
    key = f"v:{row['credential_ref']}" if vehicle else f"p:{row['subject_id']}"
    return Passage(
        event_id=str(row["event_id"]),
        key=key,
        vehicle=vehicle,
        kind=row["subject_kind"],
        inward=row["direction"] == "in",
        at=as_utc(row["occurred_at"]),
    )


def _vehicle_class(kind: str) -> str:
    return "resident" if kind == SubjectKind.RESIDENT.value else "other"
