"""Watchlists: plates or people that officers (or admins) flag, with the action an edge takes
(deny, or let through and alert). Why an entry exists stays on the hub; reading the list is
a read of personal data, so an officer gives a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlmodel import col, select

from hub import registry
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.auth import Role
from hub.callers import Caller
from hub.errors import NotFound
from hub.registry import Changes
from hub.schemas.watchlist import WatchCreate
from hub.tables import WatchlistEntry

router = APIRouter(prefix="/api/watchlist", tags=["watchlist"])

Watcher = Annotated[Caller, allow(Role.ADMIN, Role.OFFICER, personal_data=True)]


@router.post("", status_code=201)
def add(
    body: WatchCreate, caller: Watcher, session: SessionDep, services: ServicesDep
) -> WatchCreate:
    value = registry.plate_number(body.value) if body.target == "plate" else body.value
    row = WatchlistEntry(
        id=body.id,
        compound_id=caller.compound_id,
        kind=body.target,
        value=value,
        action=body.action,
        reason=body.reason,
        created_by=caller.user.username,
    )
    session.add(row)
    changes = Changes(caller.compound_id)
    changes.upsert("watchlist", row.id)
    services.commit_registry(session, changes, caller.note("create", f"watchlist:{body.id}"))
    return body.model_copy(update={"value": value})


@router.get("")
def list_entries(caller: Watcher, session: SessionDep) -> list[WatchCreate]:
    rows = session.exec(
        select(WatchlistEntry).where(col(WatchlistEntry.compound_id) == caller.compound_id)
    )
    caller.audit("read", "watchlist")
    return [WatchCreate.of(row) for row in rows]


@router.delete("/{entry_id}", status_code=204)
def remove(entry_id: str, caller: Watcher, session: SessionDep, services: ServicesDep) -> None:
    row = session.get(WatchlistEntry, entry_id)
    if row is None or row.compound_id != caller.compound_id:
        raise NotFound(f"no watchlist entry {entry_id}")
    session.delete(row)
    changes = Changes(caller.compound_id)
    changes.delete("watchlist", entry_id)
    services.commit_registry(session, changes, caller.note("delete", f"watchlist:{entry_id}"))
