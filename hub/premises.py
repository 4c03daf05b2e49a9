"""A compound's premises: its buildings, the units in them, and its gates. Staff add
buildings and units, admins gates; each addition is committed by the route, audited (a
duplicate id is a `Conflict` then)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from hub.records import Slice, referenced, sliced
from hub.schemas.admin import BuildingCreate, GateCreate, UnitCreate
from hub.tables import Building, Gate, Unit


def add_building(*, session: Session, compound_id: str, body: BuildingCreate) -> Building:
    building = Building(compound_id=compound_id, **body.model_dump())
    session.add(building)
    return building


def add_unit(*, session: Session, compound_id: str, body: UnitCreate) -> Unit:
    """A unit of one of the compound's buildings (`InvalidInput` for another's)."""
    referenced(session, Building, body.building_id, compound_id, "building")
    unit = Unit(compound_id=compound_id, **body.model_dump())
    session.add(unit)
    return unit


def units(*, session: Session, compound_id: str, limit: int, offset: int) -> Slice[Unit]:
    """The compound's units by id."""
    query = select(Unit).where(col(Unit.compound_id) == compound_id).order_by(col(Unit.id))
    return sliced(session, query, limit=limit, offset=offset)


def add_gate(*, session: Session, compound_id: str, body: GateCreate) -> Gate:
    """A gate of the compound, or of one of its buildings (`InvalidInput` for another's)."""
    if body.building_id is not None:
        referenced(session, Building, body.building_id, compound_id, "building")
    gate = Gate(compound_id=compound_id, **body.model_dump())
    session.add(gate)
    return gate


def gates(*, session: Session, compound_id: str) -> Sequence[Gate]:
    """The compound's gates by id: a handful, never paged."""
    return session.exec(
        select(Gate).where(col(Gate.compound_id) == compound_id).order_by(col(Gate.id))
    ).all()
