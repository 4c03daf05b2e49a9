"""Sensing the actual population: residents the gates have not seen, and unregistered faces
and plates that come like residents do, for staff to reconcile the register."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hub.analytics import population
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.schemas.population import AbsentPublic, Reconciliation, RegularPublic
from hub.tables import utcnow

router = APIRouter(prefix="/api/population", tags=["population"])
Reader = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, personal_data=True)]


@router.get("")
def reconcile(caller: Reader, session: SessionDep, services: ServicesDep) -> Reconciliation:
    policy = services.settings.analytics
    found = population.reconcile(
        session=session, compound_id=caller.compound_id, policy=policy, now=utcnow()
    )
    caller.audit("read", "population")
    return Reconciliation(
        absent_days=policy.absent_days,
        absent=[AbsentPublic(**vars(a)) for a in found.absent],
        regular_days=policy.regular_days,
        unregistered=[RegularPublic(**vars(r)) for r in found.regulars],
    )
