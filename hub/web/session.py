"""Who is looking at a page: the session cookie set at login (HttpOnly, SameSite=Strict, so
no other site can post a form with it), the role, and the purpose an officer gave."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine

from hub import auth
from hub.api.deps import Caller, SessionDep, get_engine
from hub.auth import Role
from hub.errors import Unauthenticated

SESSION_COOKIE = "anju_session"
PURPOSE_COOKIE = "anju_purpose"
LANGUAGE_COOKIE = "anju_lang"


class LoginRequired(Exception):
    """No valid session: the page sends the browser to the login form."""


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
        purpose = request.cookies.get(PURPOSE_COOKIE, "")
        return Caller(user=user, role=role, reason=purpose, engine=engine)

    return Depends(dependency)


Staff = Annotated[Caller, viewer(Role.ADMIN, Role.STAFF, Role.OFFICER)]
Anyone = Annotated[Caller, viewer(Role.ADMIN, Role.STAFF, Role.OFFICER, Role.RESIDENT)]
Handler = Annotated[Caller, viewer(Role.ADMIN, Role.STAFF)]
