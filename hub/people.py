"""People and their credentials (cards, plates, PINs) as staff manage them: who a caller may
see, a page of the register with everyone's credentials read in bulk, and the changes, each
logged for the edges in the caller's `Changes` (the route commits them, audited)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub import accounts, registry
from hub.auth import Role
from hub.callers import Caller
from hub.core.security import SecretBox
from hub.errors import Forbidden, NotFound
from hub.records import Slice, owned, referenced, sliced
from hub.registry import Changes
from hub.schemas.people import (
    CardCreate,
    CredentialKind,
    PersonCreate,
    PersonUpdate,
    PinCreate,
    PlateCreate,
)
from hub.tables import AuditRecord, Card, Person, Pin, Plate, Unit, utcnow

Credential = Card | Plate | Pin
C = TypeVar("C", Card, Plate, Pin)


def visible(*, session: Session, caller: Caller, person_id: str) -> Person:
    """The person, if this caller may see them (a resident: their own unit's); `NotFound`
    otherwise, never a hint."""
    person = owned(session, Person, person_id, caller.compound_id, "person")
    if caller.role is Role.RESIDENT and person.unit_id != caller.user.unit_id:
        raise NotFound(f"no person {person_id}")
    return person


def listing(
    *, session: Session, compound_id: str, unit_id: str | None, limit: int, offset: int
) -> Slice[Person]:
    """The compound's people (one unit's, given `unit_id`) by id: a slice and its total."""
    query = select(Person).where(col(Person.compound_id) == compound_id)
    if unit_id is not None:
        query = query.where(col(Person.unit_id) == unit_id)
    return sliced(session, query.order_by(col(Person.id)), limit=limit, offset=offset)


def credentials(*, session: Session, people: Sequence[Person]) -> dict[str, list[Credential]]:
    """Each person's credentials (cards, then plates, then PINs, each by id), read in one
    query per kind whatever the number of people."""
    ids = [person.id for person in people]
    held: dict[str, list[Credential]] = defaultdict(list)
    if not ids:
        return held
    rows: list[Credential] = [*_held(session, Card, ids), *_held(session, Plate, ids)]
    for row in [*rows, *_held(session, Pin, ids)]:
        held[str(row.person_id)].append(row)
    return held


def _held(session: Session, table: type[C], person_ids: list[str]) -> Sequence[C]:
    query = select(table).where(col(table.person_id).in_(person_ids)).order_by(col(table.id))
    return session.exec(query).all()


def create(*, session: Session, compound_id: str, body: PersonCreate, changes: Changes) -> Person:
    _check_unit(session, compound_id, body.unit_id)
    person = Person(compound_id=compound_id, **body.model_dump())
    session.add(person)
    changes.upsert("person", person.id)
    return person


def update(
    *, session: Session, person: Person, body: PersonUpdate, changes: Changes
) -> accounts.Closed:
    """The fields given (and not null); a resident account whose holder no longer lives in
    its unit is closed (`hub.accounts`), and what was closed is returned for the audit."""
    _check_unit(session, person.compound_id, body.unit_id)
    unit_before = person.unit_id
    for name, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(person, name, value)
    session.add(person)
    left = unit_before if unit_before != person.unit_id else None
    closed = accounts.close_holders(
        session=session,
        person=person,
        changes=changes,
        now=utcnow(),
        moved_out=False,
        left_unit=left,
    )
    registry.unlink_accounts(session=session, person=person)
    changes.upsert("person", person.id)
    return closed


def delete(*, session: Session, person: Person, changes: Changes) -> accounts.Closed:
    """Move-out: the person and all their credentials, face templates and consents; their
    accounts closed, their sessions ended, the passes they issued and nobody used revoked."""
    closed = accounts.close_holders(
        session=session,
        person=person,
        changes=changes,
        now=utcnow(),
        moved_out=True,
        left_unit=person.unit_id,
    )
    registry.delete_person(session=session, person=person, changes=changes)
    return closed


def add_card(*, session: Session, person: Person, body: CardCreate, changes: Changes) -> Card:
    card = Card(compound_id=person.compound_id, person_id=person.id, **body.model_dump())
    return _add(session, card, "card", changes)


def add_plate(*, session: Session, person: Person, body: PlateCreate, changes: Changes) -> Plate:
    plate = Plate(
        id=body.id,
        compound_id=person.compound_id,
        person_id=person.id,
        number=registry.plate_number(body.number),
        parking_slot=body.parking_slot,
    )
    return _add(session, plate, "plate", changes)


def add_pin(
    *, session: Session, person: Person, body: PinCreate, box: SecretBox, changes: Changes
) -> Pin:
    pin = registry.new_pin(
        session=session, box=box, person=person, pin=body.pin, pin_id=body.id, duress=body.duress
    )
    return _add(session, pin, "pin", changes)


PIN_REFUSALS = 5  # refused PINs a user may have in `PIN_REFUSAL_WINDOW`
PIN_REFUSAL_WINDOW = timedelta(hours=1)


def may_try_pin(*, session: Session, caller: Caller) -> None:
    """Too many refused PINs from one user in the last hour is someone trying PINs to learn
    whose they are: `Forbidden` until the hour has passed (counted from the audit log)."""
    since = utcnow() - PIN_REFUSAL_WINDOW
    refused = session.exec(
        select(func.count()).where(
            col(AuditRecord.actor) == caller.user.username,
            col(AuditRecord.action) == "pin_refused",
            col(AuditRecord.at) >= since,
        )
    ).one()
    if refused >= PIN_REFUSALS:
        raise Forbidden(f"{refused} PINs refused in the last hour: ask an administrator")


def remove_credential(
    *,
    session: Session,
    compound_id: str,
    kind: CredentialKind,
    credential_id: str,
    changes: Changes,
) -> None:
    table = registry.table_for(kind)
    session.delete(owned(session, table, credential_id, compound_id, kind))
    changes.delete(kind, credential_id)


def _add(session: Session, row: C, kind: CredentialKind, changes: Changes) -> C:
    session.add(row)
    changes.upsert(kind, row.id)
    return row


def _check_unit(session: Session, compound_id: str, unit_id: str | None) -> None:
    if unit_id is not None:
        referenced(session, Unit, unit_id, compound_id, "unit")
