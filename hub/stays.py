"""Temporary vehicles (临停): each visitor's or unknown vehicle's stay, from entry to exit,
as the API and the guard booth's page list them (`hub.follow_up` records them)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from hub.schemas.vehicles import Stay
from hub.tables import VehicleStay, as_utc, utcnow


def list_stays(session: Session, compound_id: str, *, inside: bool, limit: int) -> list[Stay]:
    """The compound's stays, newest first, or only the vehicles still inside, at most
    `limit`; `minutes` runs until now for those inside. The caller audits the read."""
    query = select(VehicleStay).where(col(VehicleStay.compound_id) == compound_id)
    if inside:
        query = query.where(col(VehicleStay.exited_at).is_(None))
    rows = session.exec(query.order_by(col(VehicleStay.entered_at).desc()).limit(limit)).all()
    now = utcnow()
    return [_stay(row, now) for row in rows]


def _stay(row: VehicleStay, now: datetime) -> Stay:
    entered = as_utc(row.entered_at)
    exited = None if row.exited_at is None else as_utc(row.exited_at)
    return Stay(
        plate=row.plate,
        subject_kind=row.subject_kind,
        entered_at=entered,
        entry_gate=row.entry_gate,
        exited_at=exited,
        exit_gate=row.exit_gate,
        minutes=round(((exited or now) - entered).total_seconds() / 60, 1),
    )
