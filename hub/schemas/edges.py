"""The compound's edges and their last reported status."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from hub.tables import Edge, as_utc


class EdgePublic(BaseModel):
    edge_id: str
    compound_id: str
    online: bool
    status_at: datetime | None
    outbox_rows: int | None
    outbox_oldest_age_s: float | None
    outbox_refused: int | None
    registry_version: int | None
    registry_age_s: float | None
    registry_stale: bool | None
    clock_offset_s: float | None
    clock_trusted: bool | None

    @classmethod
    def of(cls, edge: Edge) -> EdgePublic:
        return cls(
            edge_id=edge.edge_id,
            compound_id=edge.compound_id,
            online=edge.online,
            status_at=as_utc(edge.status_at) if edge.status_at else None,
            outbox_rows=edge.outbox_rows,
            outbox_oldest_age_s=edge.outbox_oldest_age_s,
            outbox_refused=edge.outbox_refused,
            registry_version=edge.registry_version,
            registry_age_s=edge.registry_age_s,
            registry_stale=edge.registry_stale,
            clock_offset_s=edge.clock_offset_s,
            clock_trusted=edge.clock_trusted,
        )
