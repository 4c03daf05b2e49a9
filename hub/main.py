"""The hub's FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api.errors import ERROR_RESPONSES, install_error_handlers
from hub.api.routes import (
    admin,
    anomalies,
    auth,
    edge_sync,
    edges,
    events,
    faces,
    guard,
    health,
    incidents,
    occupancy,
    passes,
    people,
    population,
    vehicles,
    watchlist,
)
from hub.core.config import HubSettings
from hub.headers import SecurityHeaders
from hub.limits import BodyLimit
from hub.services import HubServices
from hub.web import app as web


def create_app(settings: HubSettings | None = None) -> FastAPI:
    services = HubServices.build(settings or HubSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start()
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(title="Anju hub", version="0.1.0", lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    modules = (
        health,
        auth,
        events,
        occupancy,
        anomalies,
        incidents,
        population,
        edges,
        people,
        faces,
        passes,
        watchlist,
        guard,
        vehicles,
        admin,
        edge_sync,
    )
    for module in modules:
        app.include_router(module.router, responses=ERROR_RESPONSES)
    web.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # the outermost: a refusal carries the headers too
    return app
