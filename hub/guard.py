"""The guard booth's work, for the API and the booth's page alike: a gate opened or refused
by command (signed for the compound's edges, audited with its reason), and who is waiting
at which gate (denied or unrecognised in the last minutes, and not let in since), with the
plates a refused plate may be."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from sqlmodel import Session, col, select

from anju.mqtt import LinkDown
from hub import audited, issuer, look_alikes
from hub.callers import Caller
from hub.errors import Unavailable
from hub.look_alikes import PlateRegister
from hub.records import owned
from hub.schemas.guard import CommandBody, CommandSent, Waiting
from hub.services import HubServices
from hub.tables import Entry, Gate, as_utc, utcnow
from models.events import Direction
from models.tokens import GateCommand

logger = logging.getLogger(__name__)


def send_command(
    gate_id: str, body: CommandBody, caller: Caller, session: Session, services: HubServices
) -> CommandSent:
    """The guard's command for `gate_id`: signed for each edge of the compound, audited with
    its reason, then sent. The edge that drives the gate carries it out within 30 s or not
    at all; `edges` lists the edges it reached the broker for (`Unavailable` when none)."""
    owned(session, Gate, gate_id, caller.compound_id, "gate")
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
    whom = body.subject_id or body.pass_id
    target = f"gate:{gate_id}" + (f" (for {whom})" if whom else "")
    # Audited with its own reason, with a new issuer key if this was its first use.
    audited.commit(session, caller.note(body.action, target, reason=body.reason))
    sent = _send_commands(services, caller.compound_id, tokens)
    if not sent:
        raise Unavailable("the broker is out of reach: the command was not sent")
    return CommandSent(command_id=str(command_id), edges=sent)


def _send_commands(services: HubServices, compound_id: str, tokens: dict[str, str]) -> list[str]:
    """The edges whose command reached the broker, in order, until the link is found down
    (one link serves them all): the caller tells the guard which edges it reached."""
    sent: list[str] = []
    for edge_id, token in tokens.items():
        try:
            services.send_command(compound_id, edge_id, token)
        except LinkDown as exc:
            missed = [e for e in tokens if e not in sent]
            logger.warning("gate command not sent to %s: %s", ", ".join(missed), exc)
            break
        sent.append(edge_id)
    return sent


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


def who_is_waiting(session: Session, compound_id: str, minutes: int) -> list[Waiting]:
    """Denied at a gate of the compound in the last `minutes` and not granted there since,
    newest first, each refused plate with the plates it may be; the caller audits the read
    (`shown`)."""
    now = utcnow()
    since = now - timedelta(minutes=minutes)
    rows = session.exec(
        select(Entry)
        .where(col(Entry.compound_id) == compound_id, col(Entry.occurred_at) >= since)
        .order_by(col(Entry.occurred_at))
    ).all()
    register = PlateRegister(session, compound_id, now)
    waiting_at: Waits = {}
    for row in rows:
        if row.method == "remote":
            _end(waiting_at, row, partial(_commanded_for, row.subject_id, register))
            continue
        key = (row.gate_id, row.method, row.credential_ref or row.subject_id or row.lane)
        if row.outcome == "granted":
            waiting_at.pop(key, None)
            # Told to use a card, say, they did (the face sent to a second factor, too).
            _end(waiting_at, row, partial(_unnamed_or, row.subject_id))
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


Waits = dict[tuple[str, str, str], list[Entry]]  # (gate, method, who) → their denials


def _end(waiting_at: Waits, at: Entry, waited_for: Callable[[Entry], bool]) -> None:
    """Ends the waits at `at`'s gate, that way, whose last denial `waited_for` says `at` was
    for (a guard's command there, or someone let in there)."""
    for key, denials in list(waiting_at.items()):
        last = denials[-1]
        if (last.gate_id, last.direction) == (at.gate_id, at.direction) and waited_for(last):
            del waiting_at[key]


def _unnamed_or(subject_id: str | None, denial: Entry) -> bool:
    """Refused with nobody named (a face never clear enough to check, a locked keypad), or
    refused as `subject_id` another way (a face that needed a second factor)."""
    named = subject_id is not None and denial.subject_id == subject_id
    return named or not (denial.credential_ref or denial.subject_id)


def _commanded_for(holder: str | None, register: PlateRegister, denial: Entry) -> bool:
    """Whether a guard's command naming `holder` (a person, or a pass: the edge logs either
    as the subject; None: everyone waiting there) is for whoever `denial` refused (by name,
    or by a plate that may be `holder`'s)."""
    if holder is None or denial.subject_id == holder:
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
