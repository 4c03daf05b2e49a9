"""The error documents every route may answer with (`hub.api.errors` says when)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, for a person to read")


class FieldProblems(BaseModel):
    """A request whose fields do not fit the API (FastAPI's own answer)."""

    detail: list[dict[str, Any]]
