"""Temporary vehicles (临停): each visitor's or unknown vehicle's stay, from entry to exit
(`hub.stays`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub.api.deps import SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.stays import Stay, list_stays

router = APIRouter(prefix="/api/vehicles", tags=["vehicles"])


@router.get("/stays")
def stays(
    caller: Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, personal_data=True)],
    session: SessionDep,
    inside: Annotated[bool, Query(description="Only vehicles still inside")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Stay]:
    """Newest first; `minutes` runs until now for a vehicle still inside."""
    result = list_stays(session, caller.compound_id, inside=inside, limit=limit)
    caller.audit("read", "vehicles:stays")
    return result
