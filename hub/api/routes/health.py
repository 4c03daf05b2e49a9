from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.deps import ServicesDep
from hub.core import db
from hub.errors import Unauthenticated

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus metrics (hub/metrics.py lists them): counts and ids, no personal data.
    Open unless `ANJU_HUB_METRICS_TOKEN` is set; then Prometheus sends it as a bearer token."""
    wanted = services.settings.metrics_token
    if wanted and not secrets.compare_digest(authorization or "", f"Bearer {wanted}"):
        raise Unauthenticated("send Authorization: Bearer <ANJU_HUB_METRICS_TOKEN>")
    body = generate_latest(services.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    """Ready when the database answers and ingest runs; says whether MQTT is connected."""
    database = "ok" if db.answers(services.engine) else "unavailable"
    ingestor = services.ingestor
    healthy = database == "ok" and ingestor.alive
    link = services.link
    mqtt = (
        "connected"
        if link.connected
        else f"refused: {link.refused}"
        if link.refused
        else ("disconnected")
    )
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "ingest": "running" if ingestor.alive else "stopped",
        "mqtt": mqtt,
        "ingest_backlog": ingestor.backlog(),
        "ingested": ingestor.committed,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
