"""Buildings, units (paged), gates and user accounts of the caller's compound; the audit
chain's check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hub import accounts, audit, audited, auth, premises
from hub.api.deps import Manager, ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.registry import Changes
from hub.schemas.admin import (
    AuditCheck,
    BuildingCreate,
    GateCreate,
    SessionsEnded,
    UnitCreate,
    UserCreate,
    UserPublic,
)
from hub.schemas.common import Limit, Offset, Page
from hub.tables import utcnow

router = APIRouter(prefix="/api", tags=["admin"])

Admin = Annotated[Caller, allow(Role.ADMIN)]


@router.post("/buildings", status_code=201)
def create_building(body: BuildingCreate, caller: Manager, session: SessionDep) -> BuildingCreate:
    premises.add_building(session=session, compound_id=caller.compound_id, body=body)
    audited.commit(session, caller.note("create", f"building:{body.id}"))
    return body


@router.get("/units")
def list_units(
    caller: Manager, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[UnitCreate]:
    """The compound's units by id, a page at a time; `total` counts them all."""
    found = premises.units(
        session=session, compound_id=caller.compound_id, limit=limit, offset=offset
    )
    return Page[UnitCreate].of(found, UnitCreate.of)


@router.post("/units", status_code=201)
def create_unit(body: UnitCreate, caller: Manager, session: SessionDep) -> UnitCreate:
    premises.add_unit(session=session, compound_id=caller.compound_id, body=body)
    audited.commit(session, caller.note("create", f"unit:{body.id}"))
    return body


@router.get("/gates")
def list_gates(caller: Manager, session: SessionDep) -> list[GateCreate]:
    gates = premises.gates(session=session, compound_id=caller.compound_id)
    return [GateCreate.of(gate) for gate in gates]


@router.post("/gates", status_code=201)
def create_gate(body: GateCreate, caller: Admin, session: SessionDep) -> GateCreate:
    premises.add_gate(session=session, compound_id=caller.compound_id, body=body)
    audited.commit(session, caller.note("create", f"gate:{body.id}"))
    return body


@router.post("/users", status_code=201)
def create_user(
    body: UserCreate, caller: Admin, session: SessionDep, services: ServicesDep
) -> UserPublic:
    auth.create_user(
        session=session,
        settings=services.settings,
        username=body.username,
        password=body.password,
        role=body.role,
        compound_id=caller.compound_id,
        unit_id=body.unit_id,
        person_id=body.person_id,
    )
    audited.commit(session, caller.note("create", f"user:{body.username}"))
    return UserPublic(
        username=body.username, role=body.role, unit_id=body.unit_id, person_id=body.person_id
    )


@router.get("/users")
def list_users(
    caller: Admin, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[UserPublic]:
    """The compound's accounts by user name, closed ones with when they were closed."""
    found = accounts.listing(
        session=session, compound_id=caller.compound_id, limit=limit, offset=offset
    )
    return Page[UserPublic].of(found, UserPublic.of)


@router.post("/users/{username}/disable")
def disable_user(
    username: str, caller: Admin, session: SessionDep, services: ServicesDep
) -> UserPublic:
    """Close the account: no login, every session ended, its unused visitor passes revoked."""
    user = accounts.owned_user(session=session, compound_id=caller.compound_id, username=username)
    changes = Changes(caller.compound_id)
    closed = accounts.close(session=session, user=user, changes=changes, now=utcnow())
    services.commit_registry(
        session, changes, caller.note("disable", f"user:{username} ({closed})")
    )
    return UserPublic.of(user)


@router.post("/users/{username}/enable")
def enable_user(username: str, caller: Admin, session: SessionDep) -> UserPublic:
    """Reopen a closed account (its revoked passes stay revoked)."""
    user = accounts.owned_user(session=session, compound_id=caller.compound_id, username=username)
    accounts.reopen(session=session, user=user)
    audited.commit(session, caller.note("enable", f"user:{username}"))
    return UserPublic.of(user)


@router.delete("/users/{username}/sessions")
def end_sessions(username: str, caller: Admin, session: SessionDep) -> SessionsEnded:
    """Log the account out everywhere, now."""
    user = accounts.owned_user(session=session, compound_id=caller.compound_id, username=username)
    ended = accounts.end_sessions(session=session, user=user)
    audited.commit(session, caller.note("logout", f"user:{username} ({ended} sessions)"))
    return SessionsEnded(username=username, sessions=ended)


@router.get("/audit/verify")
def verify_audit(caller: Admin, session: SessionDep) -> AuditCheck:
    """Walk the audit chain: any edited or removed record shows as a problem."""
    result = audit.verify(session)
    return AuditCheck.of(result)
