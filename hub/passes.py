"""Visitor passes: issued by staff for any unit of their compound, by a resident for their own
unit, or at the guard booth for a walk-in; listed a page at a time; revoked; and an entry
counted against one atomically when an edge asks. Changes are logged in the caller's
`Changes` (the route commits them, audited); a pass's QR token is signed once it is
committed with the registry version that carries it (`token`)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub import issuer, registry
from hub.auth import Role
from hub.callers import Caller
from hub.core.security import SecretBox
from hub.errors import Conflict, Forbidden, NotFound
from hub.records import Slice, owned, referenced, sliced
from hub.registry import Changes
from hub.schemas.passes import PassCreate, WalkIn
from hub.tables import PassEntry, Unit, VisitorPass, utcnow


def visible(*, session: Session, caller: Caller, pass_id: str) -> VisitorPass:
    """The pass, if this caller may see it (a resident: their own unit's); `NotFound`
    otherwise."""
    row = owned(session, VisitorPass, pass_id, caller.compound_id, "pass")
    if caller.role is Role.RESIDENT and row.unit_id != caller.user.unit_id:
        raise NotFound(f"no pass {pass_id}")
    return row


def listing(*, session: Session, caller: Caller, limit: int, offset: int) -> Slice[VisitorPass]:
    """The compound's passes (a resident: their unit's), newest window first."""
    query = select(VisitorPass).where(col(VisitorPass.compound_id) == caller.compound_id)
    if caller.role is Role.RESIDENT:
        query = query.where(col(VisitorPass.unit_id) == caller.user.unit_id)
    query = query.order_by(col(VisitorPass.valid_from).desc(), col(VisitorPass.id))
    return sliced(session, query, limit=limit, offset=offset)


def issue(
    *, session: Session, caller: Caller, body: PassCreate, box: SecretBox, changes: Changes
) -> VisitorPass:
    _check_unit(session, caller, body.unit_id)
    plate = None if body.plate is None else registry.plate_number(body.plate)
    row = VisitorPass(
        compound_id=caller.compound_id,
        created_by=caller.user.username,
        **body.model_dump(exclude={"plate"}),
        plate=plate,
    )
    return _add(session, row, box, changes)


def walk_in(
    *,
    session: Session,
    caller: Caller,
    body: WalkIn,
    box: SecretBox,
    changes: Changes,
    now: datetime,
) -> VisitorPass:
    """A pass for one entry, from now for `body.minutes`, for the visitor or courier the
    guard registers at `body.gate_id`."""
    _check_unit(session, caller, body.unit_id)
    row = VisitorPass(
        id=f"walkin-{now:%Y%m%d}-{secrets.token_hex(4)}",
        compound_id=caller.compound_id,
        unit_id=body.unit_id,
        visitor_name=f"{body.visitor_name} ({body.kind} at {body.gate_id})",
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(minutes=body.minutes),
        max_entries=1,
        plate=None if body.plate is None else registry.plate_number(body.plate),
        created_by=caller.user.username,
    )
    return _add(session, row, box, changes)


def revoke(*, session: Session, row: VisitorPass, changes: Changes, now: datetime) -> None:
    row.revoked_at = now
    session.add(row)
    changes.upsert("pass", row.id)  # the delta turns a revoked pass into a deletion


def token(*, session: Session, row: VisitorPass, box: SecretBox, now: datetime) -> str:
    """The pass's QR content, signed with the compound's issuer key; `NotFound` for a
    revoked pass. Call once the pass is committed (the token names its registry version)."""
    if row.revoked_at is not None:
        raise NotFound(f"pass {row.id} is revoked")
    return issuer.pass_token(session=session, row=row, box=box, now=now)


@dataclass(frozen=True)
class Counted:
    granted: bool
    entries: int
    max_entries: int


def count_entry(*, session: Session, compound_id: str, pass_id: str, entry: uuid.UUID) -> Counted:
    """Count entry `entry` (the entry event's id) on the pass if it has one left, and
    commit: two gates asking at once cannot both take the last one, and the same entry
    asked twice is counted once, on the pass it was counted on (an entry counted on another
    pass is no entry of this one). A revoked, expired or unknown pass has none."""
    try:
        row = owned(session, VisitorPass, pass_id, compound_id, "pass")
    except NotFound:
        return Counted(granted=False, entries=0, max_entries=0)
    counted = session.get(PassEntry, entry)
    if counted is not None:
        same = counted.pass_id == pass_id and row.revoked_at is None
        return Counted(granted=same, entries=row.entries_used, max_entries=row.max_entries)
    now = utcnow()
    taken = _take_one(session, pass_id, now)
    if taken:
        session.add(PassEntry(event_id=entry, pass_id=pass_id, online=True, counted_at=now))
    session.commit()
    session.refresh(row)
    return Counted(granted=taken, entries=row.entries_used, max_entries=row.max_entries)


def _take_one(session: Session, pass_id: str, now: datetime) -> bool:
    """One entry of the pass, if it is valid now and has one left, in one statement."""
    taken = session.execute(
        update(VisitorPass)
        .where(
            col(VisitorPass.id) == pass_id,
            col(VisitorPass.entries_used) < col(VisitorPass.max_entries),
            col(VisitorPass.revoked_at).is_(None),
            col(VisitorPass.valid_from) <= now,
            col(VisitorPass.valid_until) > now,
        )
        .values(entries_used=col(VisitorPass.entries_used) + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(taken == 1)


def _add(session: Session, row: VisitorPass, box: SecretBox, changes: Changes) -> VisitorPass:
    session.add(row)
    try:
        session.flush()  # a taken id is a 409 now, before anything else reads the session
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"pass:{row.id}: its id is taken") from exc
    changes.upsert("pass", row.id)
    # The issuer key, made now if this is its first use, commits with the pass: the token
    # is signed after the commit, which then writes nothing.
    issuer.issuer_key(session=session, compound_id=row.compound_id, box=box)
    return row


def _check_unit(session: Session, caller: Caller, unit_id: str) -> None:
    if caller.role is Role.RESIDENT and unit_id != caller.user.unit_id:
        raise Forbidden("a resident issues passes for their own unit only")
    referenced(session, Unit, unit_id, caller.compound_id, "unit")
