"""Watchlists: plates or people that officers (or admins) flag, with the action an edge takes
(deny, or let through and alert). Entries are added, listed a page at a time and removed;
changes are logged in the caller's `Changes` (the route commits them, audited)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from hub import registry
from hub.records import Slice, owned, sliced
from hub.registry import Changes
from hub.schemas.watchlist import WatchCreate
from hub.tables import WatchlistEntry


def add(
    *, session: Session, compound_id: str, body: WatchCreate, created_by: str, changes: Changes
) -> WatchlistEntry:
    """The entry, a plate's number normalised (`InvalidInput` for no plate at all)."""
    value = registry.plate_number(body.value) if body.target == "plate" else body.value
    row = WatchlistEntry(
        id=body.id,
        compound_id=compound_id,
        kind=body.target,
        value=value,
        action=body.action,
        reason=body.reason,
        created_by=created_by,
    )
    session.add(row)
    changes.upsert("watchlist", row.id)
    return row


def listing(
    *, session: Session, compound_id: str, limit: int, offset: int
) -> Slice[WatchlistEntry]:
    """The compound's entries by id."""
    query = select(WatchlistEntry).where(col(WatchlistEntry.compound_id) == compound_id)
    return sliced(session, query.order_by(col(WatchlistEntry.id)), limit=limit, offset=offset)


def remove(*, session: Session, compound_id: str, entry_id: str, changes: Changes) -> None:
    session.delete(owned(session, WatchlistEntry, entry_id, compound_id, "watchlist entry"))
    changes.delete("watchlist", entry_id)
