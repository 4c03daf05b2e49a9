from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from hub import crud
from hub.api.deps import SessionDep
from hub.tables import as_utc

router = APIRouter(prefix="/api", tags=["edges"])


class EdgePublic(BaseModel):
    edge_id: str
    compound_id: str
    online: bool
    status_at: datetime | None
    outbox_rows: int | None
    outbox_oldest_age_s: float | None
    outbox_refused: int | None
    registry_version: int | None


@router.get("/edges")
def list_edges(session: SessionDep) -> list[EdgePublic]:
    """Every registered edge with its last reported status (offline when its Will fired)."""
    return [
        EdgePublic(
            edge_id=edge.edge_id,
            compound_id=edge.compound_id,
            online=edge.online,
            status_at=as_utc(edge.status_at) if edge.status_at else None,
            outbox_rows=edge.outbox_rows,
            outbox_oldest_age_s=edge.outbox_oldest_age_s,
            outbox_refused=edge.outbox_refused,
            registry_version=edge.registry_version,
        )
        for edge in crud.list_edges(session=session)
    ]
