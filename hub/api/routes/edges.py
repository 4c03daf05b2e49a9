from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hub import crud
from hub.api.deps import SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.schemas.edges import EdgePublic

router = APIRouter(prefix="/api", tags=["edges"])


@router.get("/edges")
def list_edges(
    caller: Annotated[Caller, allow(Role.ADMIN, Role.STAFF)], session: SessionDep
) -> list[EdgePublic]:
    """Every registered edge with its last reported status (offline when its Will fired)."""
    edges = crud.list_edges(session=session, compound_id=caller.compound_id)
    return [EdgePublic.of(edge) for edge in edges]
