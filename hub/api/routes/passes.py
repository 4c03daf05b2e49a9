"""Visitor passes: staff issue them for any unit of their compound, a resident for their own
unit; revoking one removes it from every edge. A pass's QR code is a token signed with the
compound's issuer key, which edges verify offline (see `models.tokens`). The list is paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hub import audited, passes
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.registry import Changes
from hub.schemas.common import Limit, Offset, Page
from hub.schemas.passes import PassCreate, PassIssued, PassPublic, PassQr
from hub.tables import utcnow

router = APIRouter(prefix="/api/passes", tags=["passes"])

Issuer = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.RESIDENT, personal_data=True)]


@router.post("", status_code=201)
def issue(
    body: PassCreate, caller: Issuer, session: SessionDep, services: ServicesDep
) -> PassIssued:
    box = services.settings.secret_box()
    changes = Changes(caller.compound_id)
    row = passes.issue(session=session, caller=caller, body=body, box=box, changes=changes)
    services.commit_registry(session, changes, caller.note("create", f"pass:{body.id}"))
    token = passes.token(session=session, row=row, box=box, now=utcnow())
    return PassIssued.of_issued(row, token)


@router.get("/{pass_id}/qr")
def qr(pass_id: str, caller: Issuer, session: SessionDep, services: ServicesDep) -> PassQr:
    """The pass's QR content again (for a lost message); a revoked pass has none."""
    row = passes.visible(session=session, caller=caller, pass_id=pass_id)
    box = services.settings.secret_box()
    token = passes.token(session=session, row=row, box=box, now=utcnow())
    # The read, audited with the issuer key if this was its first use.
    audited.commit(session, caller.note("read", f"pass:{pass_id}:qr"))
    return PassQr(token=token)


@router.get("")
def list_passes(
    caller: Issuer, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[PassPublic]:
    """The compound's passes (a resident: their unit's), newest window first, a page at a
    time; `total` counts them all."""
    found = passes.listing(session=session, caller=caller, limit=limit, offset=offset)
    caller.audit("read", "passes")
    return Page[PassPublic].of(found, PassPublic.of)


@router.delete("/{pass_id}", status_code=204)
def revoke(pass_id: str, caller: Issuer, session: SessionDep, services: ServicesDep) -> None:
    row = passes.visible(session=session, caller=caller, pass_id=pass_id)
    changes = Changes(caller.compound_id)
    passes.revoke(session=session, row=row, changes=changes, now=utcnow())
    services.commit_registry(session, changes, caller.note("delete", f"pass:{pass_id}"))
