"""Domain errors mapped to HTTP, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from hub.errors import (
    BadCursor,
    Conflict,
    Forbidden,
    HubError,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from hub.schemas.errors import FieldProblems, Problem

logger = logging.getLogger(__name__)

_STATUS: dict[type[HubError], int] = {
    BadCursor: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Unavailable: 503,
}


# Every route may answer with these (the API's documentation says so, one place for all).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": FieldProblems | Problem,
        "description": "Fields that do not fit, or values that make no sense together",
    }
}
ERROR_RESPONSES.update(
    (status, {"model": Problem, "description": text})
    for status, text in (
        (400, "A request the API cannot read (a cursor it did not issue)"),
        (401, "Not logged in, or the session expired"),
        (403, "The role or the compound does not allow this"),
        (404, "No such record, or none this user may see"),
        (409, "The request contradicts what is stored"),
        (503, "Something the request needs is out of reach (the broker, an edge)"),
    )
)


def status_of(exc: HubError) -> int:
    return next((s for t, s in _STATUS.items() if isinstance(exc, t)), 500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IntegrityError)
    async def _clash(request: Request, exc: IntegrityError) -> JSONResponse:
        """A write the database refused (an id or a number taken) that no data layer turned
        into a Conflict: still the request's clash with what is stored, never a 500."""
        logger.warning(
            "%s %s: a clash not caught where it happened", request.method, request.url.path
        )
        detail = "the request contradicts what is stored (an id or a number is taken)"
        return JSONResponse(status_code=409, content={"detail": detail})

    @app.exception_handler(UnicodeError)
    async def _bad_unicode(request: Request, exc: UnicodeError) -> JSONResponse:
        """Text no database can hold (a lone surrogate escaped in JSON): the request's
        fault, whatever field it was in."""
        detail = "the request holds text that is not valid Unicode (a lone surrogate)"
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        status = status_of(exc)
        caller = getattr(request.state, "caller", None)
        if status == 404 and request.method == "GET" and caller is not None:
            # A read of what is not there, or not the caller's compound's: audited, as
            # someone trying ids is a signal.
            target = f"GET {request.url.path}"
            await run_in_threadpool(caller.audit, "refused", target)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(status_code=status, content={"detail": str(exc)}, headers=headers)
