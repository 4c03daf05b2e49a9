"""Temporary vehicles (临停): each visitor's or unknown vehicle's stay, from entry to exit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.api.deps import Caller, SessionDep, allow
from hub.auth import Role
from hub.tables import VehicleStay, as_utc, utcnow

router = APIRouter(prefix="/api/vehicles", tags=["vehicles"])


class Stay(BaseModel):
    plate: str
    subject_kind: str
    entered_at: datetime
    entry_gate: str
    exited_at: datetime | None
    exit_gate: str | None
    minutes: float


@router.get("/stays")
def stays(
    caller: Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, personal_data=True)],
    session: SessionDep,
    inside: Annotated[bool, Query(description="Only vehicles still inside")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Stay]:
    """Newest first; `minutes` runs until now for a vehicle still inside."""
    result = list_stays(session, caller.compound_id, inside=inside, limit=limit)
    caller.audit("read", "vehicles:stays")
    return result


def list_stays(session: Session, compound_id: str, *, inside: bool, limit: int) -> list[Stay]:
    """The stays `stays` answers with (the guard booth's page shows those inside); the
    caller audits the read."""
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
