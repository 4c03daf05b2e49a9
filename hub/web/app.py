"""Puts the web UI on the hub's app: its pages, its static files, and where a browser without
a session (or with the wrong role) is sent."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.web import booth, case_pages, pages
from hub.web.session import LoginRequired, Messages, PageForbidden


def install(app: FastAPI) -> None:
    app.state.poll_audits = pages.PollAudits()
    app.state.messages = Messages()  # see session.after_form
    app.include_router(pages.router)
    app.include_router(case_pages.router)
    app.include_router(booth.router)
    static = Path(__file__).parent / "static"
    app.mount("/ui/static", StaticFiles(directory=static), name="ui-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        query = f"?error={exc.why}" if exc.why else ""
        return RedirectResponse(f"/ui/login{query}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return pages.bare_page(request, "not_allowed", None, 403, back="/ui/entries")
