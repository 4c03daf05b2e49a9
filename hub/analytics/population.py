"""Sensing the actual population: registered residents the gates have not seen for a while,
and unregistered faces (by pseudonym) and plates that come and go like residents do, for
staff to reconcile the register."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from hub.analytics.policy import AnalyticsPolicy
from hub.tables import Entry, Person, Unit, as_utc
from models.events import Method, Outcome, SubjectKind


@dataclass(frozen=True)
class Absent:
    person_id: str
    name: str
    unit: str | None
    last_seen: datetime | None


@dataclass(frozen=True)
class Registered:
    person_id: str
    name: str
    kind: str
    unit: str | None


@dataclass(frozen=True)
class Regular:
    identity: str
    method: str
    days_seen: int
    sightings: int
    last_seen: datetime


@dataclass(frozen=True)
class Reconciliation:
    absent: list[Absent]
    regulars: list[Regular]


def reconcile(
    *, session: Session, compound_id: str, policy: AnalyticsPolicy, now: datetime
) -> Reconciliation:
    """Both lists, with the policy's thresholds."""
    absent = absent_residents(
        session=session, compound_id=compound_id, now=now, days=policy.absent_days
    )
    regulars = unregistered_regulars(
        session=session,
        compound_id=compound_id,
        now=now,
        days=policy.regular_days,
        zone=policy.zone,
    )
    return Reconciliation(absent, regulars)


def register(*, session: Session, compound_id: str, limit: int) -> list[Registered]:
    """The register as staff reconcile it: people by unit."""
    rows = session.execute(
        select(Person.id, Person.display_name, Person.kind, Unit.label)
        .outerjoin(Unit, col(Unit.id) == col(Person.unit_id))
        .where(col(Person.compound_id) == compound_id)
        .order_by(col(Unit.label), col(Person.id))
        .limit(limit)
    ).all()
    return [Registered(*row) for row in rows]


def absent_residents(
    *, session: Session, compound_id: str, now: datetime, days: int
) -> list[Absent]:
    """Residents with no granted passage in the last `days` days (or never)."""
    last_seen = (
        select(col(Entry.subject_id), func.max(Entry.occurred_at).label("last"))
        .where(
            col(Entry.compound_id) == compound_id,
            col(Entry.outcome) == Outcome.GRANTED.value,
            col(Entry.subject_id).is_not(None),
            col(Entry.counted).is_(True),
        )
        .group_by(col(Entry.subject_id))
        .subquery()
    )
    rows = session.execute(
        select(Person.id, Person.display_name, Unit.label, last_seen.c.last)
        .outerjoin(Unit, col(Unit.id) == col(Person.unit_id))
        .outerjoin(last_seen, last_seen.c.subject_id == col(Person.id))
        .where(
            col(Person.compound_id) == compound_id,
            col(Person.kind) == SubjectKind.RESIDENT.value,
        )
        .order_by(col(Person.id))
    ).all()
    cutoff = now - timedelta(days=days)
    return [
        Absent(person_id=pid, name=name, unit=unit, last_seen=as_utc(last) if last else None)
        for pid, name, unit, last in rows
        if last is None or as_utc(last) < cutoff
    ]


def unregistered_regulars(
    *, session: Session, compound_id: str, now: datetime, days: int, zone: ZoneInfo
) -> list[Regular]:
    """Unknown faces and plates seen on at least `days` local days of the last fortnight."""
    since = now - timedelta(days=14)
    rows = session.execute(
        select(Entry.method, Entry.subject_id, Entry.credential_ref, Entry.occurred_at).where(
            col(Entry.compound_id) == compound_id,
            col(Entry.counted).is_(True),
            col(Entry.subject_kind) == SubjectKind.UNKNOWN.value,
            col(Entry.method).in_((Method.FACE.value, Method.PLATE.value)),
            col(Entry.occurred_at) >= since,
        )
    ).all()
    seen: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for method, subject_id, plate, at in rows:
        identity = plate if method == Method.PLATE.value else subject_id
        if identity:
            seen[(method, identity)].append(as_utc(at))
    regulars = [
        Regular(
            identity=identity,
            method=method,
            days_seen=len({t.astimezone(zone).date() for t in times}),
            sightings=len(times),
            last_seen=max(times),
        )
        for (method, identity), times in seen.items()
    ]
    return sorted(
        (r for r in regulars if r.days_seen >= days), key=lambda r: (-r.days_seen, r.identity)
    )
