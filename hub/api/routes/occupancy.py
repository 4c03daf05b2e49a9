from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from hub import crud
from hub.api.deps import Caller, SessionDep, allow
from hub.auth import Role
from hub.tables import utcnow
from models.events import SubjectKind

router = APIRouter(prefix="/api", tags=["occupancy"])


class Occupancy(BaseModel):
    at: datetime
    inside: dict[SubjectKind, int]
    total: int


@router.get("/occupancy")
def get_occupancy(
    caller: Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER)], session: SessionDep
) -> Occupancy:
    """Who is inside now, by kind: people whose latest granted passage was inward."""
    counts = crud.occupancy(session=session, compound_id=caller.compound_id)
    inside = {
        kind: counts.get(kind.value, 0) for kind in SubjectKind if kind is not SubjectKind.UNKNOWN
    }
    return Occupancy(at=utcnow(), inside=inside, total=sum(inside.values()))
