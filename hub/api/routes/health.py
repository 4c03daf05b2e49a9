from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.api.deps import ServicesDep, SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep, session: SessionDep) -> JSONResponse:
    """Liveness and readiness: the database answers; says whether MQTT is connected."""
    try:
        session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unavailable"
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "mqtt": "connected" if services.link.connected else "disconnected",
        "ingest_backlog": services.ingestor.backlog(),
    }
    return JSONResponse(body, status_code=200 if database == "ok" else 503)
