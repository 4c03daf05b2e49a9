"""What many resources share: a page of a list, with its total."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from hub.records import Slice

T = TypeVar("T")
R = TypeVar("R")

MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many items")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Skip this many items first")]


class Page(BaseModel, Generic[T]):
    """One page of a list, in the list's order; `total` counts the whole list."""

    items: list[T]
    total: int = Field(description="Items in the whole list, on every page")
    limit: int
    offset: int

    @classmethod
    def of(cls, found: Slice[R], shape: Callable[[R], T]) -> Page[T]:
        """The rows `found` as items, each shaped by `shape`."""
        return cls(
            items=[shape(row) for row in found.rows],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )
