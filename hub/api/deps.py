"""Dependencies of the routes, from `app.state` through `Depends`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from hub import auth
from hub.auth import Role
from hub.callers import Caller
from hub.errors import Forbidden, Unauthenticated
from hub.services import HubServices
from hub.tables import Edge, User


def get_services(request: Request) -> HubServices:
    services: HubServices = request.app.state.services
    return services


ServicesDep = Annotated[HubServices, Depends(get_services)]


def get_engine(services: ServicesDep) -> Engine:
    return services.engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthenticated("log in first: send Authorization: Bearer <token>")
    return credentials.credentials


def get_user(session: SessionDep, credentials: BearerDep) -> User:
    return auth.user_for_token(session=session, token=_token(credentials))


def get_edge(session: SessionDep, credentials: BearerDep) -> Edge:
    return auth.edge_for_token(session=session, token=_token(credentials))


EdgeDep = Annotated[Edge, Depends(get_edge)]


def allow(*roles: Role, personal_data: bool = False) -> Any:
    """Only these roles; for personal data an officer must say why (`X-Audit-Reason`)."""

    def dependency(
        request: Request,
        user: Annotated[User, Depends(get_user)],
        engine: Annotated[Engine, Depends(get_engine)],
        reason: Annotated[str | None, Header(alias="X-Audit-Reason", max_length=500)] = None,
    ) -> Caller:
        role = Role(user.role)
        caller = Caller(user=user, role=role, reason=(reason or "").strip(), engine=engine)
        refused = None
        if role not in roles:
            refused = f"a {role.value} may not do this"
        elif personal_data and role is Role.OFFICER and not caller.reason:
            refused = "officers must give a reason for reading personal data (X-Audit-Reason)"
        if refused is not None:  # audited: a refused read is a signal, like a refused login
            caller.audit("refused", f"{request.method} {request.url.path}")
            raise Forbidden(refused)
        request.state.caller = caller  # a read answered 404 is audited too (api/errors.py)
        return caller

    return Depends(dependency)


# The callers most routes accept.
Manager = Annotated[Caller, allow(Role.ADMIN, Role.STAFF)]
PersonalDataReader = Annotated[
    Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, Role.RESIDENT, personal_data=True)
]
