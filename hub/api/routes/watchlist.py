"""Watchlists: plates or people that officers (or admins) flag, with the action an edge takes
(deny, or let through and alert). Why an entry exists stays on the hub; reading the list is
a read of personal data, so an officer gives a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from hub import watchlist
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.registry import Changes
from hub.schemas.common import Limit, Offset, Page
from hub.schemas.watchlist import WatchCreate

router = APIRouter(prefix="/api/watchlist", tags=["watchlist"])

Watcher = Annotated[Caller, allow(Role.ADMIN, Role.OFFICER, personal_data=True)]


@router.post("", status_code=201)
def add(
    body: WatchCreate, caller: Watcher, session: SessionDep, services: ServicesDep
) -> WatchCreate:
    changes = Changes(caller.compound_id)
    row = watchlist.add(
        session=session,
        compound_id=caller.compound_id,
        body=body,
        created_by=caller.user.username,
        changes=changes,
    )
    services.commit_registry(session, changes, caller.note("create", f"watchlist:{body.id}"))
    return WatchCreate.of(row)


@router.get("")
def list_entries(
    caller: Watcher, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[WatchCreate]:
    """The compound's entries by id, a page at a time; `total` counts them all."""
    found = watchlist.listing(
        session=session, compound_id=caller.compound_id, limit=limit, offset=offset
    )
    caller.audit("read", "watchlist")
    return Page[WatchCreate].of(found, WatchCreate.of)


@router.delete("/{entry_id}", status_code=204)
def remove(entry_id: str, caller: Watcher, session: SessionDep, services: ServicesDep) -> None:
    changes = Changes(caller.compound_id)
    watchlist.remove(
        session=session, compound_id=caller.compound_id, entry_id=entry_id, changes=changes
    )
    services.commit_registry(session, changes, caller.note("delete", f"watchlist:{entry_id}"))
