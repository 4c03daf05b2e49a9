"""Who is looking at a page: the session cookie set at login (HttpOnly, SameSite=Strict, so
no other site can post a form with it), the role, and the purpose an officer gave."""

from __future__ import annotations

import threading
import time
import urllib.parse
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from hub import auth
from hub.api.deps import SessionDep, get_engine
from hub.auth import Role
from hub.callers import Caller
from hub.core.security import token_digest
from hub.errors import Unauthenticated

SESSION_COOKIE = "anju_session"
PURPOSE_COOKIE = "anju_purpose"
LANGUAGE_COOKIE = "anju_lang"
MESSAGE_CHARS = 500
MESSAGE_FOR_S = 60.0


class LoginRequired(Exception):
    """No valid session (or an officer's without a purpose): back to the login form, with
    the reason's message key."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why)
        self.why = why


class PageForbidden(Exception):
    """A role that may not open this page."""


def viewer(*roles: Role) -> Any:
    def dependency(
        request: Request, session: SessionDep, engine: Annotated[Engine, Depends(get_engine)]
    ) -> Caller:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise LoginRequired
        try:
            user = auth.user_for_token(session=session, token=token)
        except Unauthenticated as exc:
            raise LoginRequired from exc
        role = Role(user.role)
        if role not in roles:
            raise PageForbidden
        purpose = read_purpose(request.cookies.get(PURPOSE_COOKIE, ""))
        if role is Role.OFFICER and not purpose:  # as the API's X-Audit-Reason
            raise LoginRequired("purpose_needed")
        return Caller(user=user, role=role, reason=purpose, engine=engine)

    return Depends(dependency)


def same_origin(request: Request) -> None:
    """A form that changes something (a barrier opened, a case closed) is taken from the
    UI's own pages only. SameSite=Strict keeps other sites' posts from carrying the session,
    but not a neighbouring port or subdomain's, so the browser's Sec-Fetch-Site must say
    same-origin (or, from a browser too old to send it, the Origin must be this host)."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None:
        allowed = site in {"same-origin", "none"}
    else:
        allowed = origin is None or urllib.parse.urlsplit(origin).netloc == request.headers.get(
            "host"
        )
    if not allowed:
        raise HTTPException(403, "refused: this form was not sent from this hub's pages")


def write_purpose(purpose: str) -> str:
    """A cookie holds Latin-1 only: the purpose (often Chinese) travels percent-encoded."""
    return urllib.parse.quote(purpose.strip(), safe="")


def read_purpose(cookie: str) -> str:
    return urllib.parse.unquote(cookie).strip()[:300]


Staff = Annotated[Caller, viewer(Role.ADMIN, Role.STAFF, Role.OFFICER)]
Anyone = Annotated[Caller, viewer(Role.ADMIN, Role.STAFF, Role.OFFICER, Role.RESIDENT)]
Handler = Annotated[Caller, viewer(Role.ADMIN, Role.STAFF)]


def after_form(request: Request, path: str, message: str | None = None) -> RedirectResponse:
    """To `path` once a form is handled (a reload then repeats nothing), with `message` for
    that page when this session opens it next (`Messages`)."""
    token = request.cookies.get(SESSION_COOKIE)
    if message and token:
        page = urllib.parse.urlsplit(path).path
        messages(request).leave(token, page, message, time.monotonic())
    return RedirectResponse(path, status_code=303)


def messages(request: Request) -> Messages:
    store: Messages = request.app.state.messages
    return store


class Messages:
    """What a form's answer has to say to the page it leads to ("Command sent", or why not),
    kept here by session for `MESSAGE_FOR_S` and shown once, on that page only (a page that
    failed to open leaves it unseen, not shown on another). Never in the address or in a
    cookie: a link anyone can write, or another site on this host (cookies ignore ports),
    cannot put words on the hub's pages."""

    def __init__(self) -> None:
        self._left: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def leave(self, token: str, page: str, message: str, now: float) -> None:
        with self._lock:
            self._left = {k: v for k, v in self._left.items() if now - v[2] < MESSAGE_FOR_S}
            self._left[token_digest(token)] = (page, message[:MESSAGE_CHARS], now)

    def take(self, token: str | None, page: str, now: float) -> str | None:
        """The message left for this session's `page`, if fresh; gone once taken."""
        if not token:
            return None
        key = token_digest(token)
        with self._lock:
            left = self._left.get(key)
            if left is None or left[0] != page:
                return None
            del self._left[key]
        return left[1] if now - left[2] < MESSAGE_FOR_S else None
