from __future__ import annotations

from fastapi import APIRouter

from hub import auth
from hub.api.deps import BearerDep, ServicesDep, SessionDep, _token
from hub.schemas.auth import Login, LoginResult

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login")
def login(body: Login, session: SessionDep, services: ServicesDep) -> LoginResult:
    """A session token; five wrong passwords in a row lock the account for a while."""
    token, expires = auth.login(
        session=session,
        settings=services.settings,
        username=body.username,
        password=body.password,
    )
    return LoginResult(token=token, expires_at=expires)


@router.post("/logout", status_code=204)
def logout(session: SessionDep, credentials: BearerDep) -> None:
    auth.logout(session=session, token=_token(credentials))
