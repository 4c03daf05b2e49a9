"""Reads every resource shares: one record of a compound by its id, and a slice of a list
with the list's total. The one place that says whether a record is the caller's compound's:
a record of another compound is answered as if it did not exist (`NotFound`, a 404), so that
nobody learns another compound's ids by trying them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from hub.errors import InvalidInput, NotFound


class InCompound(Protocol):
    compound_id: str


Row = TypeVar("Row", bound=InCompound)
R = TypeVar("R")


def owned(session: Session, table: type[Row], record_id: Any, compound_id: str, what: str) -> Row:
    """Record `record_id` of `table` if it is compound `compound_id`'s; `NotFound` ("no
    {what} {id}") when it is missing or another compound's, the two never told apart."""
    row = session.get(table, record_id)
    if row is None or row.compound_id != compound_id:
        raise NotFound(f"no {what} {record_id}")
    return row


def referenced(
    session: Session, table: type[Row], record_id: Any, compound_id: str, what: str
) -> Row:
    """As `owned`, for a record a request's body names (the unit a pass is for): one that is
    not the compound's makes the request invalid (`InvalidInput`, a 422), not a 404."""
    try:
        return owned(session, table, record_id, compound_id, what)
    except NotFound as exc:
        raise InvalidInput(f"no {what} {record_id} in this compound") from exc


@dataclass(frozen=True)
class Slice(Generic[R]):
    """`rows`: at most `limit` of a list after its first `offset`; `total`: the whole list."""

    rows: Sequence[R]
    total: int
    limit: int
    offset: int


def sliced(session: Session, query: SelectOfScalar[R], *, limit: int, offset: int) -> Slice[R]:
    """A slice of `query` (ordered by the caller, on a unique key so that pages neither
    repeat nor skip a row) and its total: two queries, whatever the list's length."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = session.exec(query.limit(limit).offset(offset)).all()
    return Slice(rows=rows, total=total, limit=limit, offset=offset)
