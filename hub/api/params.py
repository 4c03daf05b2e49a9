"""Path parameters shared by routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# A row's number: what the databases can hold (a larger one is a 422, not an overflow).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
