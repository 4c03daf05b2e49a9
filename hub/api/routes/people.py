"""People and their credentials. Staff and admins manage them; officers read them with a
reason; a resident sees the people of their own unit. Every read and change is audited, and
every change reaches the compound's edges as a registry delta. The register is paged."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from hub import people
from hub.api.deps import Manager, PersonalDataReader, ServicesDep, SessionDep
from hub.auth import Role
from hub.registry import Changes, PinRefused
from hub.schemas.common import Limit, Offset, Page
from hub.schemas.people import (
    CardCreate,
    CredentialPublic,
    PersonCreate,
    PersonPublic,
    PersonUpdate,
    PinCreate,
    PlateCreate,
)
from hub.tables import Person

router = APIRouter(prefix="/api", tags=["people"])


@router.get("/people")
def list_people(
    caller: PersonalDataReader,
    session: SessionDep,
    unit_id: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PersonPublic]:
    """The compound's people by id (a resident: their own unit's), each with their
    credentials, a page at a time; `total` counts them all."""
    if caller.role is Role.RESIDENT:
        unit_id = caller.user.unit_id
    found = people.listing(
        session=session, compound_id=caller.compound_id, unit_id=unit_id, limit=limit, offset=offset
    )
    held = people.credentials(session=session, people=found.rows)
    caller.audit("read", f"people:{unit_id or 'all'}")
    return Page[PersonPublic].of(found, lambda person: PersonPublic.of(person, held[person.id]))


@router.get("/people/{person_id}")
def get_person(person_id: str, caller: PersonalDataReader, session: SessionDep) -> PersonPublic:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    caller.audit("read", f"person:{person_id}")
    return _public(session, person)


@router.post("/people", status_code=201)
def create_person(
    body: PersonCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> PersonPublic:
    changes = Changes(caller.compound_id)
    person = people.create(
        session=session, compound_id=caller.compound_id, body=body, changes=changes
    )
    services.commit_registry(session, changes, caller.note("create", f"person:{body.id}"))
    return _public(session, person)


@router.patch("/people/{person_id}")
def update_person(
    person_id: str,
    body: PersonUpdate,
    caller: Manager,
    session: SessionDep,
    services: ServicesDep,
) -> PersonPublic:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    changes = Changes(caller.compound_id)
    closed = people.update(session=session, person=person, body=body, changes=changes)
    note = caller.note("update", closed.audited(f"person:{person_id}"))
    services.commit_registry(session, changes, note)
    return _public(session, person)


@router.delete("/people/{person_id}", status_code=204)
def delete_person(
    person_id: str, caller: Manager, session: SessionDep, services: ServicesDep
) -> None:
    """Move-out: the person and all their credentials, on the hub and on every edge."""
    person = people.visible(session=session, caller=caller, person_id=person_id)
    changes = Changes(caller.compound_id)
    closed = people.delete(session=session, person=person, changes=changes)
    note = caller.note("delete", closed.audited(f"person:{person_id}"))
    services.commit_registry(session, changes, note)


@router.post("/people/{person_id}/cards", status_code=201)
def add_card(
    person_id: str, body: CardCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> CredentialPublic:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    changes = Changes(caller.compound_id)
    card = people.add_card(session=session, person=person, body=body, changes=changes)
    services.commit_registry(session, changes, caller.note("create", f"card:{body.id}"))
    return CredentialPublic.of(card)


@router.post("/people/{person_id}/plates", status_code=201)
def add_plate(
    person_id: str, body: PlateCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> CredentialPublic:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    changes = Changes(caller.compound_id)
    plate = people.add_plate(session=session, person=person, body=body, changes=changes)
    services.commit_registry(session, changes, caller.note("create", f"plate:{body.id}"))
    return CredentialPublic.of(plate)


@router.post("/people/{person_id}/pins", status_code=201)
def add_pin(
    person_id: str, body: PinCreate, caller: Manager, session: SessionDep, services: ServicesDep
) -> CredentialPublic:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    people.may_try_pin(session=session, caller=caller)
    changes = Changes(caller.compound_id)
    box = services.settings.secret_box()
    try:
        pin = people.add_pin(session=session, person=person, body=body, box=box, changes=changes)
    except PinRefused:  # nothing was added: the audit record is all that is written
        caller.audit("pin_refused", f"person:{person_id}")  # counted by `may_try_pin`
        raise
    services.commit_registry(session, changes, caller.note("create", f"pin:{body.id}"))
    return CredentialPublic.of(pin)


@router.delete("/credentials/{kind}/{credential_id}", status_code=204)
def remove_credential(
    kind: Literal["card", "plate", "pin"],
    credential_id: str,
    caller: Manager,
    session: SessionDep,
    services: ServicesDep,
) -> None:
    changes = Changes(caller.compound_id)
    people.remove_credential(
        session=session,
        compound_id=caller.compound_id,
        kind=kind,
        credential_id=credential_id,
        changes=changes,
    )
    services.commit_registry(session, changes, caller.note("delete", f"{kind}:{credential_id}"))


def _public(session: SessionDep, person: Person) -> PersonPublic:
    held = people.credentials(session=session, people=[person])
    return PersonPublic.of(person, held[person.id])
