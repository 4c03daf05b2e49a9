"""Dependencies of the routes, from `app.state` through `Depends`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from hub.services import HubServices


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
