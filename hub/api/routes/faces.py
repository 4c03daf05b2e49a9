"""Face enrolment, with consent: opt-in, recorded (for a minor, the guardian's), withdrawable.

Staff enrol a person from photos sent as base64 in JSON; the photos are encoded in memory and
discarded, the templates stored encrypted, and they reach the edges with the next registry
delta. Withdrawing consent (or moving out) deletes the templates on the hub at once and on
every online edge with the nudge that follows (within a minute, usually seconds). A resident
may withdraw their own consent (their account names their person) and that of any minor of
their unit, not another adult's; the face is never the only way in.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter

from hub import faces, people, registry
from hub.api.deps import Manager, PersonalDataReader, ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.errors import Forbidden, InvalidInput
from hub.registry import Changes
from hub.schemas.faces import EnrolBody, Enrolled, FaceStatus
from hub.tables import utcnow

router = APIRouter(prefix="/api/people", tags=["faces"])

Withdrawer = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.RESIDENT)]


@router.post("/{person_id}/face", status_code=201)
def enrol(
    person_id: str, body: EnrolBody, caller: Manager, session: SessionDep, services: ServicesDep
) -> Enrolled:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    changes = Changes(caller.compound_id)
    try:
        result = faces.enrol(
            session=session,
            box=services.settings.secret_box(),
            person=person,
            photos=[_photo(i, text) for i, text in enumerate(body.photos, 1)],
            consent=faces.ConsentGiven(**body.consent.model_dump()),
            recorded_by=caller.user.username,
            changes=changes,
        )
    except faces.PhotoError as exc:
        raise InvalidInput(str(exc)) from exc
    services.commit_registry(session, changes, caller.note("create", f"face:{person_id}"))
    return Enrolled(templates=result.photos_used, warnings=result.warnings)


@router.get("/{person_id}/face")
def status(person_id: str, caller: PersonalDataReader, session: SessionDep) -> FaceStatus:
    person = people.visible(session=session, caller=caller, person_id=person_id)
    found = faces.state(session=session, person=person)
    caller.audit("read", f"face:{person_id}")
    return FaceStatus.of(found)


@router.delete("/{person_id}/face", status_code=204)
def withdraw(
    person_id: str, caller: Withdrawer, session: SessionDep, services: ServicesDep
) -> None:
    """Consent withdrawn: the templates are deleted here and on every edge. A resident may
    withdraw their own consent and that of any minor of their unit, not another adult's."""
    person = people.visible(session=session, caller=caller, person_id=person_id)
    holder = caller.user.person_id
    if caller.role is Role.RESIDENT and not faces.may_withdraw(
        session=session, person=person, holder_id=holder
    ):
        raise Forbidden("a resident may withdraw their own face consent, or a minor's")
    changes = Changes(caller.compound_id)
    registry.withdraw_face_consent(session=session, person=person, changes=changes, now=utcnow())
    services.commit_registry(session, changes, caller.note("delete", f"face:{person_id}"))


def _photo(number: int, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"photo {number} is not base64") from exc
