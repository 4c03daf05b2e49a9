"""Visitor passes: staff issue them for any unit of their compound, a resident for their own
unit; revoking one removes it from every edge. A pass's QR code is a token signed with the
compound's issuer key, which edges verify offline (see `models.tokens`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter
from sqlmodel import Session, col, select

from hub import audited, issuer, registry
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.registry import Changes
from hub.schemas.passes import PassCreate, PassIssued, PassPublic, PassQr
from hub.tables import Unit, VisitorPass, utcnow

router = APIRouter(prefix="/api/passes", tags=["passes"])

Issuer = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.RESIDENT, personal_data=True)]
MAX_VALIDITY = timedelta(days=31)


@router.post("", status_code=201)
def issue(
    body: PassCreate, caller: Issuer, session: SessionDep, services: ServicesDep
) -> PassIssued:
    check_unit(session, caller, body.unit_id)
    plate = None if body.plate is None else registry.plate_number(body.plate)
    row = VisitorPass(
        compound_id=caller.compound_id,
        created_by=caller.user.username,
        **body.model_dump(exclude={"plate"}),
        plate=plate,
    )
    session.add(row)
    changes = Changes(caller.compound_id)
    changes.upsert("pass", row.id)
    services.commit_registry(session, changes, caller.note("create", f"pass:{body.id}"))
    box = services.settings.secret_box()
    token = issuer.pass_token(session=session, row=row, box=box, now=utcnow())
    session.commit()  # the issuer key, if this was its first use
    return PassIssued.of_issued(row, token)


@router.get("/{pass_id}/qr")
def qr(pass_id: str, caller: Issuer, session: SessionDep, services: ServicesDep) -> PassQr:
    """The pass's QR content again (for a lost message); a revoked pass has none."""
    row = _own_pass(session, caller, pass_id)
    if row.revoked_at is not None:
        raise NotFound(f"pass {pass_id} is revoked")
    box = services.settings.secret_box()
    token = issuer.pass_token(session=session, row=row, box=box, now=utcnow())
    audited.commit(session, caller.note("read", f"pass:{pass_id}:qr"))
    return PassQr(token=token)


@router.get("")
def list_passes(caller: Issuer, session: SessionDep) -> list[PassPublic]:
    query = select(VisitorPass).where(col(VisitorPass.compound_id) == caller.compound_id)
    if caller.role is Role.RESIDENT:
        query = query.where(col(VisitorPass.unit_id) == caller.user.unit_id)
    rows = session.exec(query.order_by(col(VisitorPass.valid_from).desc())).all()
    caller.audit("read", "passes")
    return [PassPublic.of(row) for row in rows]


@router.delete("/{pass_id}", status_code=204)
def revoke(pass_id: str, caller: Issuer, session: SessionDep, services: ServicesDep) -> None:
    row = _own_pass(session, caller, pass_id)
    row.revoked_at = utcnow()
    session.add(row)
    changes = Changes(caller.compound_id)
    changes.upsert("pass", row.id)  # the delta turns a revoked pass into a deletion
    services.commit_registry(session, changes, caller.note("delete", f"pass:{pass_id}"))


def _own_pass(session: Session, caller: Caller, pass_id: str) -> VisitorPass:
    row = session.get(VisitorPass, pass_id)
    if row is None or row.compound_id != caller.compound_id:
        raise NotFound(f"no pass {pass_id}")
    if caller.role is Role.RESIDENT and row.unit_id != caller.user.unit_id:
        raise NotFound(f"no pass {pass_id}")
    return row


def check_unit(session: Session, caller: Caller, unit_id: str) -> None:
    if caller.role is Role.RESIDENT and unit_id != caller.user.unit_id:
        raise Forbidden("a resident issues passes for their own unit only")
    unit = session.get(Unit, unit_id)
    if unit is None or unit.compound_id != caller.compound_id:
        raise InvalidInput(f"no unit {unit_id} in this compound")
