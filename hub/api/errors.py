"""Domain errors mapped to HTTP, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hub.errors import BadCursor, HubError

_STATUS: dict[type[HubError], int] = {BadCursor: 400}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(status_code=_STATUS.get(type(exc), 400), content={"detail": str(exc)})
