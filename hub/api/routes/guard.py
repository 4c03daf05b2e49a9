"""The guard booth: open or refuse a gate remotely (a reason is mandatory, and audited),
register walk-in visitors and couriers (a short-lived pass and its QR code), and see who is
waiting at which gate (denied or unrecognised in the last minutes, and not let in since).
The commands and the waiting list are `hub.guard`'s, shared with the booth's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub import audit, passes
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.guard import send_command, shown, who_is_waiting
from hub.registry import Changes
from hub.schemas.guard import CommandBody, CommandSent, Waiting
from hub.schemas.passes import WalkIn, WalkInPass
from hub.tables import utcnow

router = APIRouter(prefix="/api", tags=["guard booth"])

Guard = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, personal_data=True)]


@router.post("/gates/{gate_id}/commands", status_code=202)
def command_gate(
    gate_id: str, body: CommandBody, caller: Guard, session: SessionDep, services: ServicesDep
) -> CommandSent:
    """Signed for each edge of the compound, audited with its reason, then sent (never sent
    unaudited). The edge that drives `gate_id` carries it out within 30 s or not at all;
    `edges` lists the edges it reached the broker for (503 when none)."""
    return send_command(gate_id, body, caller, session, services)


@router.post("/walk-ins", status_code=201)
def walk_in(body: WalkIn, caller: Guard, session: SessionDep, services: ServicesDep) -> WalkInPass:
    """A pass for one entry, from now for `minutes`; show its QR code at the gate's reader."""
    now = utcnow()
    box = services.settings.secret_box()
    changes = Changes(caller.compound_id)
    row = passes.walk_in(
        session=session, caller=caller, body=body, box=box, changes=changes, now=now
    )
    services.commit_registry(session, changes, caller.note("create", f"pass:{row.id}"))
    token = passes.token(session=session, row=row, box=box, now=now)
    return WalkInPass.of_issued(row, token)


@router.get("/gates/waiting")
def waiting(
    caller: Guard, session: SessionDep, minutes: Annotated[int, Query(ge=1, le=60)] = 5
) -> list[Waiting]:
    """Denied at a gate in the last `minutes` and not granted there since, newest first."""
    result = who_is_waiting(session, caller.compound_id, minutes)
    for target in audit.targets("gates:waiting", shown(result)):
        caller.audit("read", target)
    return result
