"""Retention: what the hub keeps no longer than its policy says, purged by a job that says
what it purged. Receipts (edge, position, event id: no personal data) stay, so an edge that
re-sends a purged event is still answered as a duplicate and nothing comes back to life.

The hub stores no images; unknown faces' templates stay on the edge and expire there after
seven days (`edge.faces.unknown`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, delete, update
from sqlmodel import Session, col, select

from hub.analytics.policy import Retention
from hub.tables import (
    Alarm,
    Anomaly,
    AnomalyAction,
    AnomalyEvidence,
    DeadLetter,
    Entry,
    VehicleStay,
)
from models.events import Method, SubjectKind


@dataclass(frozen=True)
class PurgeReport:
    entries: int
    alarms: int
    dead_letters: int
    pseudonyms: int
    vehicle_stays: int
    anomalies: int

    def as_text(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in asdict(self).items())


def purge(*, session: Session, retention: Retention, now: datetime) -> PurgeReport:
    """Delete what is past its retention; the caller commits."""

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    entries = _delete(session, Entry, col(Entry.occurred_at) < before(retention.entries_days))
    stays = _delete(
        session, VehicleStay, col(VehicleStay.entered_at) < before(retention.entries_days)
    )
    alarms = _delete(session, Alarm, col(Alarm.occurred_at) < before(retention.alarms_days))
    letters = _delete(
        session, DeadLetter, col(DeadLetter.received_at) < before(retention.dead_letters_days)
    )
    pseudonyms = _count(
        session,
        update(Entry)
        .where(
            col(Entry.subject_kind) == SubjectKind.UNKNOWN.value,
            col(Entry.method) == Method.FACE.value,
            col(Entry.subject_id).is_not(None),
            col(Entry.occurred_at) < before(retention.pseudonym_days),
        )
        .values(subject_id=None),
    )
    anomalies = _purge_closed(session, before(retention.closed_anomalies_days))
    return PurgeReport(
        entries=entries,
        alarms=alarms,
        dead_letters=letters,
        pseudonyms=pseudonyms,
        vehicle_stays=stays,
        anomalies=anomalies,
    )


def _delete(session: Session, table: type, clause: ColumnElement[bool]) -> int:
    return _count(session, delete(table).where(clause))


def _count(session: Session, statement: Executable) -> int:
    """The rows an UPDATE or DELETE touched (its result is a cursor's, which has a count)."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def _purge_closed(session: Session, before: datetime) -> int:
    ids = session.exec(
        select(Anomaly.id).where(col(Anomaly.status) == "closed", col(Anomaly.last_at) < before)
    ).all()
    if not ids:
        return 0
    _delete(session, AnomalyEvidence, col(AnomalyEvidence.anomaly_id).in_(ids))
    _delete(session, AnomalyAction, col(AnomalyAction.anomaly_id).in_(ids))
    return _delete(session, Anomaly, col(Anomaly.id).in_(ids))
