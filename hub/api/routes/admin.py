"""Buildings, units and user accounts of the caller's compound; the audit chain's check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlmodel import col, select

from hub import audit, audited, auth, crud
from hub.api.deps import Manager, ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.errors import InvalidInput
from hub.schemas.admin import (
    AuditCheck,
    BuildingCreate,
    GateCreate,
    UnitCreate,
    UserCreate,
    UserPublic,
)
from hub.tables import Building, Gate, Unit

router = APIRouter(prefix="/api", tags=["admin"])

Admin = Annotated[Caller, allow(Role.ADMIN)]


@router.post("/buildings", status_code=201)
def create_building(body: BuildingCreate, caller: Manager, session: SessionDep) -> BuildingCreate:
    session.add(Building(compound_id=caller.compound_id, **body.model_dump()))
    audited.commit(session, caller.note("create", f"building:{body.id}"))
    return body


@router.get("/units")
def list_units(caller: Manager, session: SessionDep) -> list[UnitCreate]:
    units = session.exec(select(Unit).where(col(Unit.compound_id) == caller.compound_id))
    return [UnitCreate.of(unit) for unit in units]


@router.post("/units", status_code=201)
def create_unit(body: UnitCreate, caller: Manager, session: SessionDep) -> UnitCreate:
    building = session.get(Building, body.building_id)
    if building is None or building.compound_id != caller.compound_id:
        raise InvalidInput(f"no building {body.building_id} in this compound")
    session.add(Unit(compound_id=caller.compound_id, **body.model_dump()))
    audited.commit(session, caller.note("create", f"unit:{body.id}"))
    return body


@router.get("/gates")
def list_gates(caller: Manager, session: SessionDep) -> list[GateCreate]:
    gates = crud.list_gates(session=session, compound_id=caller.compound_id)
    return [GateCreate.of(gate) for gate in gates]


@router.post("/gates", status_code=201)
def create_gate(body: GateCreate, caller: Admin, session: SessionDep) -> GateCreate:
    if body.building_id is not None:
        building = session.get(Building, body.building_id)
        if building is None or building.compound_id != caller.compound_id:
            raise InvalidInput(f"no building {body.building_id} in this compound")
    session.add(Gate(compound_id=caller.compound_id, **body.model_dump()))
    audited.commit(session, caller.note("create", f"gate:{body.id}"))
    return body


@router.post("/users", status_code=201)
def create_user(
    body: UserCreate, caller: Admin, session: SessionDep, services: ServicesDep
) -> UserPublic:
    if body.unit_id is not None:
        unit = session.get(Unit, body.unit_id)
        if unit is None or unit.compound_id != caller.compound_id:
            raise InvalidInput(f"no unit {body.unit_id} in this compound")
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


@router.get("/audit/verify")
def verify_audit(caller: Admin, session: SessionDep) -> AuditCheck:
    """Walk the audit chain: any edited or removed record shows as a problem."""
    result = audit.verify(session)
    return AuditCheck.of(result)
