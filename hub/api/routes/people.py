"""People and their credentials. Staff and admins manage them; officers read them with a
reason; a resident sees the people of their own unit. Every read and change is audited, and
every change reaches the compound's edges as a registry delta."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from sqlmodel import Session, col, select

from hub import registry
from hub.api.deps import Manager, PersonalDataReader, ServicesDep, SessionDep
from hub.auth import Role
from hub.callers import Caller
from hub.errors import InvalidInput, NotFound
from hub.registry import Changes
from hub.schemas.people import (
    CardCreate,
    CredentialPublic,
    PersonCreate,
    PersonPublic,
    PersonUpdate,
    PinCreate,
    PlateCreate,
)
from hub.services import HubServices
from hub.tables import Card, Person, Pin, Plate, Unit

router = APIRouter(prefix="/api", tags=["people"])

KnownKind = Literal["resident", "staff", "visitor"]


@router.get("/people")
def list_people(
    caller: PersonalDataReader, session: SessionDep, unit_id: str | None = None
) -> list[PersonPublic]:
    if caller.role is Role.RESIDENT:
        unit_id = caller.user.unit_id
    query = select(Person).where(col(Person.compound_id) == caller.compound_id)
    if unit_id is not None:
        query = query.where(col(Person.unit_id) == unit_id)
    people = session.exec(query.order_by(col(Person.id))).all()
    caller.audit("read", f"people:{unit_id or 'all'}")
    return [_public(session, person) for person in people]


@router.get("/people/{person_id}")
def get_person(person_id: str, caller: PersonalDataReader, session: SessionDep) -> PersonPublic:
    person = visible(session, caller, person_id)
    caller.audit("read", f"person:{person_id}")
    return _public(session, person)


@router.post("/people", status_code=201)
def create_person(
    body: PersonCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> PersonPublic:
    _check_unit(session, caller, body.unit_id)
    person = Person(compound_id=caller.compound_id, **body.model_dump())
    session.add(person)
    changes = Changes(caller.compound_id)
    changes.upsert("person", person.id)
    services.commit_registry(session, changes, caller.note("create", f"person:{person.id}"))
    return _public(session, person)


@router.patch("/people/{person_id}")
def update_person(
    person_id: str,
    body: PersonUpdate,
    caller: Manager,
    session: SessionDep,
    services: ServicesDep,
) -> PersonPublic:
    person = visible(session, caller, person_id)
    _check_unit(session, caller, body.unit_id)
    for name, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(person, name, value)
    session.add(person)
    registry.unlink_accounts(session=session, person=person)
    changes = Changes(caller.compound_id)
    changes.upsert("person", person.id)
    services.commit_registry(session, changes, caller.note("update", f"person:{person_id}"))
    return _public(session, person)


@router.delete("/people/{person_id}", status_code=204)
def delete_person(
    person_id: str, caller: Manager, session: SessionDep, services: ServicesDep
) -> None:
    """Move-out: the person and all their credentials, on the hub and on every edge."""
    person = visible(session, caller, person_id)
    changes = Changes(caller.compound_id)
    registry.delete_person(session=session, person=person, changes=changes)
    services.commit_registry(session, changes, caller.note("delete", f"person:{person_id}"))


@router.post("/people/{person_id}/cards", status_code=201)
def add_card(
    person_id: str, body: CardCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> CredentialPublic:
    person = visible(session, caller, person_id)
    card = Card(compound_id=caller.compound_id, person_id=person.id, **body.model_dump())
    return _add(session, services, caller, card, kind="card", value=card.number)


@router.post("/people/{person_id}/plates", status_code=201)
def add_plate(
    person_id: str, body: PlateCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> CredentialPublic:
    person = visible(session, caller, person_id)
    number = registry.plate_number(body.number)
    plate = Plate(
        id=body.id,
        compound_id=caller.compound_id,
        person_id=person.id,
        number=number,
        parking_slot=body.parking_slot,
    )
    return _add(session, services, caller, plate, kind="plate", value=number)


@router.post("/people/{person_id}/pins", status_code=201)
def add_pin(
    person_id: str, body: PinCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> CredentialPublic:
    person = visible(session, caller, person_id)
    box = services.settings.secret_box()
    pin = registry.new_pin(
        session=session, box=box, person=person, pin=body.pin, pin_id=body.id, duress=body.duress
    )
    return _add(session, services, caller, pin, kind="pin", value=None)


@router.delete("/credentials/{kind}/{credential_id}", status_code=204)
def remove_credential(
    kind: Literal["card", "plate", "pin"],
    credential_id: str,
    caller: Manager,
    session: SessionDep,
    services: ServicesDep,
) -> None:
    row = registry.get_row(session, kind, credential_id)
    if row is None or row.compound_id != caller.compound_id:
        raise NotFound(f"no {kind} {credential_id}")
    session.delete(row)
    changes = Changes(caller.compound_id)
    changes.delete(kind, credential_id)
    services.commit_registry(session, changes, caller.note("delete", f"{kind}:{credential_id}"))


def _add(
    session: Session,
    services: HubServices,
    caller: Caller,
    row: Card | Plate | Pin,
    *,
    kind: Literal["card", "plate", "pin"],
    value: str | None,
) -> CredentialPublic:
    session.add(row)
    changes = Changes(caller.compound_id)
    changes.upsert(kind, row.id)
    services.commit_registry(session, changes, caller.note("create", f"{kind}:{row.id}"))
    return CredentialPublic(id=row.id, kind=kind, value=value)


def visible(session: Session, caller: Caller, person_id: str) -> Person:
    """The person, if this caller may see them; otherwise NotFound, never a hint."""
    person = session.get(Person, person_id)
    if person is None or person.compound_id != caller.compound_id:
        raise NotFound(f"no person {person_id}")
    if caller.role is Role.RESIDENT and person.unit_id != caller.user.unit_id:
        raise NotFound(f"no person {person_id}")
    return person


def _check_unit(session: Session, caller: Caller, unit_id: str | None) -> None:
    if unit_id is None:
        return
    unit = session.get(Unit, unit_id)
    if unit is None or unit.compound_id != caller.compound_id:
        raise InvalidInput(f"no unit {unit_id} in this compound")


def _public(session: Session, person: Person) -> PersonPublic:
    credentials = [
        CredentialPublic(id=c.id, kind="card", value=c.number)
        for c in session.exec(select(Card).where(col(Card.person_id) == person.id))
    ]
    credentials += [
        CredentialPublic(id=p.id, kind="plate", value=p.number)
        for p in session.exec(select(Plate).where(col(Plate.person_id) == person.id))
    ]
    credentials += [
        CredentialPublic(id=p.id, kind="pin", value=None)
        for p in session.exec(select(Pin).where(col(Pin.person_id) == person.id))
    ]
    return PersonPublic(
        id=person.id,
        kind=person.kind,
        unit_id=person.unit_id,
        display_name=person.display_name,
        credentials=credentials,
    )
