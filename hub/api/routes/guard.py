"""The guard booth: open or refuse a gate remotely (a reason is mandatory, and audited),
register walk-in visitors and couriers (a short-lived pass and its QR code), and see who is
waiting at which gate (denied or unrecognised in the last minutes, and not let in since)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from hub import audit, issuer, look_alikes, registry
from hub.api.deps import Caller, ServicesDep, SessionDep, allow
from hub.api.routes.passes import PassPublic, check_unit, public
from hub.auth import Role
from hub.errors import NotFound, Unavailable
from hub.look_alikes import LooksLike, PlateRegister
from hub.registry import Changes
from hub.services import HubServices
from hub.tables import Entry, Gate, VisitorPass, as_utc, utcnow
from models.events import Direction, Identifier, Text
from models.tokens import GateAction, GateCommand

router = APIRouter(prefix="/api", tags=["guard booth"])

Guard = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, personal_data=True)]


class CommandBody(BaseModel):
    action: GateAction
    reason: Text = Field(min_length=3, max_length=300)
    direction: Direction = Direction.IN
    subject_id: Identifier | None = None
    pass_id: Identifier | None = None


class CommandSent(BaseModel):
    command_id: str
    edges: list[str]


@router.post("/gates/{gate_id}/commands", status_code=202)
def command_gate(
    gate_id: str, body: CommandBody, caller: Guard, session: SessionDep, services: ServicesDep
) -> CommandSent:
    """Audited first, with its reason; then signed for each edge of the compound and sent.
    The edge that drives `gate_id` carries it out within 30 s or not at all; `edges` lists
    the edges it reached the broker for (503 when none)."""
    return send_command(gate_id, body, caller, session, services)


def send_command(
    gate_id: str, body: CommandBody, caller: Caller, session: Session, services: HubServices
) -> CommandSent:
    """The guard's command, from the API or the booth's page (see `command_gate`)."""
    gate = session.get(Gate, gate_id)
    if gate is None or gate.compound_id != caller.compound_id:
        raise NotFound(f"no gate {gate_id}")
    edges = services.edge_ids(caller.compound_id)
    if not edges:
        raise Unavailable("no edge is enrolled in this compound")
    box = services.settings.secret_box()
    command_id = uuid.uuid4()
    tokens = {
        edge_id: issuer.sign_for_edge(
            session=session, box=box, claims=_command(body, command_id, caller, edge_id, gate_id)
        )
        for edge_id in edges
    }
    session.commit()  # a new issuer key, if this was its first use
    actor = audit.Actor(caller.user.username, caller.role.value, caller.compound_id)
    whom = body.subject_id or body.pass_id
    target = f"gate:{gate_id}" + (f" (for {whom})" if whom else "")
    audit.record(caller.engine, actor=actor, action=body.action, target=target, reason=body.reason)
    sent = [e for e, t in tokens.items() if services.send_command(caller.compound_id, e, t)]
    if not sent:
        raise Unavailable("the broker is out of reach: the command was not sent")
    return CommandSent(command_id=str(command_id), edges=sent)


def _command(
    body: CommandBody, command_id: uuid.UUID, caller: Caller, edge_id: str, gate_id: str
) -> GateCommand:
    return GateCommand(
        command_id=command_id,
        compound_id=caller.compound_id,
        edge_id=edge_id,
        gate_id=gate_id,
        direction=body.direction,
        action=body.action,
        reason=body.reason,
        issued_by=caller.user.username,
        issued_at=utcnow(),
        subject_id=body.subject_id,
        pass_id=body.pass_id,
    )


class WalkIn(BaseModel):
    gate_id: Identifier
    unit_id: Identifier
    visitor_name: Text = Field(min_length=1, max_length=60)
    kind: Literal["visitor", "courier"] = "visitor"
    minutes: int = Field(60, ge=5, le=24 * 60)
    plate: str | None = Field(None, max_length=20)


class WalkInPass(PassPublic):
    token: str


@router.post("/walk-ins", status_code=201)
def walk_in(body: WalkIn, caller: Guard, session: SessionDep, services: ServicesDep) -> WalkInPass:
    """A pass for one entry, from now for `minutes`; show its QR code at the gate's reader."""
    check_unit(session, caller, body.unit_id)
    now = utcnow()
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
    session.add(row)
    token = issuer.pass_token(session=session, row=row, box=services.settings.secret_box(), now=now)
    changes = Changes(caller.compound_id)
    changes.upsert("pass", row.id)
    services.commit_registry(session, changes, f"walk-in pass {row.id}")
    caller.audit("create", f"pass:{row.id}")
    return WalkInPass(**public(row).model_dump(), token=token)


class Waiting(BaseModel):
    gate_id: str
    lane: str
    direction: Direction
    since: datetime
    attempts: int
    method: str
    credential_ref: str | None
    subject_kind: str
    subject_id: str | None
    last_reason: str
    event_id: str  # the last denial's
    snapshot: bool  # its edge kept a picture of it (`GET /api/events/{event_id}/snapshot`)
    looks_like: list[LooksLike] = []  # for a refused plate: the plates on record it may be


@router.get("/gates/waiting")
def waiting(
    caller: Guard, session: SessionDep, minutes: Annotated[int, Query(ge=1, le=60)] = 5
) -> list[Waiting]:
    """Denied at a gate in the last `minutes` and not granted there since, newest first."""
    result = who_is_waiting(session, caller.compound_id, minutes)
    for target in audit.targets("gates:waiting", shown(result)):
        caller.audit("read", target)
    return result


def who_is_waiting(session: Session, compound_id: str, minutes: int) -> list[Waiting]:
    """The guard booth's list (see `waiting`); the caller audits the read (`shown`)."""
    now = utcnow()
    since = now - timedelta(minutes=minutes)
    rows = session.exec(
        select(Entry)
        .where(col(Entry.compound_id) == compound_id, col(Entry.occurred_at) >= since)
        .order_by(col(Entry.occurred_at))
    ).all()
    register = PlateRegister(session, compound_id, now)
    waiting_at: dict[tuple[str, str, str], list[Entry]] = {}
    for row in rows:
        if row.method == "remote":
            _dealt_with(waiting_at, row, register)
            continue
        key = (row.gate_id, row.method, row.credential_ref or row.subject_id or row.lane)
        if row.outcome == "granted":
            waiting_at.pop(key, None)
        else:
            waiting_at.setdefault(key, []).append(row)
    result = [_waiting(denials) for denials in waiting_at.values()]
    for item in result:
        if _refused_plate(item.method, item.last_reason, item.credential_ref):
            item.looks_like = register.looks_like(str(item.credential_ref))
    return sorted(result, key=lambda w: w.since, reverse=True)


def shown(waiting: list[Waiting]) -> list[str]:
    """Whom and what the list shows, as its read is audited: the people refused, the cards,
    plates and codes they were refused with, and the holders of the plates suggested."""
    items: set[str] = set()
    for item in waiting:
        if item.subject_id:
            items.add(item.subject_id)
        if item.credential_ref:
            items.add(f"{item.method}:{item.credential_ref}")
        items.update(x.holder for x in item.looks_like)
    return sorted(items)


def _dealt_with(
    waiting_at: dict[tuple[str, str, str], list[Entry]], remote: Entry, register: PlateRegister
) -> None:
    """A guard's command at a gate's lane (its gate and direction): for the person or pass it
    names (or whose plate a refused plate may be), or for everyone waiting there."""
    for key, denials in list(waiting_at.items()):
        if key[0] != remote.gate_id or denials[-1].direction != remote.direction:
            continue
        if remote.subject_id is None or _for(denials[-1], remote.subject_id, register):
            del waiting_at[key]


def _for(denial: Entry, holder: str, register: PlateRegister) -> bool:
    """Whether a command naming `holder` (a person, or a pass: the edge logs either as the
    subject) is for whoever `denial` refused."""
    if denial.subject_id == holder:
        return True
    refused = _refused_plate(denial.method, denial.reason_code, denial.credential_ref)
    return refused and register.holds_near(holder, str(denial.credential_ref))


def _refused_plate(method: str, reason: str, reference: str | None) -> bool:
    return method == "plate" and reason in look_alikes.REASONS and bool(reference)


def _waiting(denials: list[Entry]) -> Waiting:
    first, last = denials[0], denials[-1]
    return Waiting(
        gate_id=last.gate_id,
        lane=last.lane,
        direction=Direction(last.direction),
        since=as_utc(first.occurred_at),
        attempts=len(denials),
        method=last.method,
        credential_ref=last.credential_ref,
        subject_kind=last.subject_kind,
        subject_id=last.subject_id,
        last_reason=last.reason_code,
        event_id=str(last.event_id),
        snapshot=last.snapshot,
    )
