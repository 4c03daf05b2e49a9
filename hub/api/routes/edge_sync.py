from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub import registry
from hub.api.deps import EdgeDep, SessionDep
from models.registry import RegistryDelta

router = APIRouter(prefix="/api/edge", tags=["edge"])


@router.get("/registry")
def pull_registry(
    edge: EdgeDep, session: SessionDep, since: Annotated[int, Query(ge=0)] = 0
) -> RegistryDelta:
    """What changed in the edge's compound since `since` (0, or a version the hub no longer
    knows of, gets a full snapshot). Authenticated by the edge's token."""
    return registry.delta_since(session=session, compound_id=edge.compound_id, since=since)
