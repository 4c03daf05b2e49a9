"""The guard booth's page: who is waiting at which gate (the list refreshes itself), the
plates a refused plate may be, the form that opens or refuses a gate by command, with its
reason, and the temporary vehicles (临停) inside (both lists refresh themselves). It reads and
sends through the functions the API uses (`hub.guard`, `hub.stays`), and is audited as the
API is."""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from hub import premises
from hub.api.deps import ServicesDep, SessionDep
from hub.callers import Caller
from hub.errors import HubError
from hub.guard import send_command, shown, who_is_waiting
from hub.schemas.guard import CommandBody, Waiting
from hub.schemas.vehicles import Stay
from hub.services import HubServices
from hub.stays import list_stays
from hub.web import i18n
from hub.web.pages import audit_poll, fragment, language, render
from hub.web.session import Handler, after_form, same_origin

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])

WAITING_MINUTES = 5
STAYS_SHOWN = 100
PAGE = "ui:gates"  # the page and its refreshes share one audit trail
STAYS_PAGE = "ui:vehicles:stays"
ACTIONS = ("open", "deny")  # an emergency hold is not a booth's click
REFUSED_FIELD = {"reason": "reason_too_short", "subject_id": "bad_id", "pass_id": "bad_id"}


class CommandForm(BaseModel):
    """As posted, every field a string: `CommandBody` judges them, so that whatever is
    wrong comes back to the guard as a message on the page, not as an error document."""

    gate_id: str = ""
    action: str = ""
    direction: str = "in"
    subject_id: str = ""
    pass_id: str = ""
    plate: str = ""  # the plate read, shown again if the command is refused
    reason: str = ""


class Chosen(BaseModel):
    """What the form starts with, from the waiting row the guard picked."""

    gate: str = ""
    direction: str = "in"
    subject: str = ""
    pass_id: str = ""
    plate: str = ""


@router.get("/gates")
def booth(
    request: Request,
    caller: Handler,
    session: SessionDep,
    services: ServicesDep,
    chosen: Annotated[Chosen, Query()],
) -> HTMLResponse:
    waiting = _waiting(request, caller, session)
    inside = _inside(request, caller, session)
    gates = premises.gates(session=session, compound_id=caller.compound_id)
    return render(
        request,
        "gates.html",
        caller,
        waiting=waiting,
        inside=inside,
        overstay_minutes=_overstay_minutes(services),
        gates=gates,
        chosen=chosen,
        zone=services.settings.analytics.zone,
    )


@router.get("/gates/waiting")
def booth_waiting(
    request: Request, caller: Handler, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """The waiting list alone, polled by the booth's page every few seconds."""
    waiting = _waiting(request, caller, session)
    zone = services.settings.analytics.zone
    return fragment(request, "waiting.html", caller, waiting=waiting, zone=zone)


@router.get("/gates/inside")
def booth_inside(
    request: Request, caller: Handler, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """The temporary vehicles inside alone, polled by the booth's page as its waiting list
    is: a car that leaves, or passes the overstay limit, shows so without a reload."""
    inside = _inside(request, caller, session)
    zone = services.settings.analytics.zone
    overstay = _overstay_minutes(services)
    return fragment(
        request, "inside.html", caller, inside=inside, overstay_minutes=overstay, zone=zone
    )


def _inside(request: Request, caller: Caller, session: Session) -> list[Stay]:
    """The temporary vehicles inside, audited as the page and its refreshes show them."""
    inside = list_stays(session, caller.compound_id, inside=True, limit=STAYS_SHOWN)
    audit_poll(request, caller, STAYS_PAGE, sorted({f"plate:{v.plate}" for v in inside}))
    return inside


def _overstay_minutes(services: HubServices) -> float:
    return services.settings.analytics.anomalies.overstay_hours * 60


def _waiting(request: Request, caller: Caller, session: Session) -> list[Waiting]:
    """The list as the page and its refreshes show it, audited as they show it."""
    waiting = who_is_waiting(session, caller.compound_id, WAITING_MINUTES)
    audit_poll(request, caller, PAGE, shown(waiting))
    return waiting


@router.post("/gates/commands")
def booth_command(
    request: Request,
    caller: Handler,
    session: SessionDep,
    services: ServicesDep,
    form: Annotated[CommandForm, Form()],
) -> RedirectResponse:
    t = i18n.translator(language(request))
    again = {
        "gate": form.gate_id,
        "direction": form.direction,
        "subject": form.subject_id,
        "pass_id": form.pass_id,
        "plate": form.plate,
    }
    if form.action not in ACTIONS:
        return _back(request, again, f"{t('not_sent')}: {t('choose_action')}")
    try:
        body = CommandBody.model_validate(
            {
                "action": form.action,
                "reason": form.reason.strip(),
                "direction": form.direction,
                "subject_id": form.subject_id.strip() or None,
                "pass_id": form.pass_id.strip() or None,
            }
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        return _back(request, again, f"{t('not_sent')}: {t(REFUSED_FIELD.get(field, 'error'))}")
    try:
        sent = send_command(form.gate_id, body, caller, session, services)
    except HubError as exc:
        return _back(request, again, f"{t('not_sent')}: {exc}")
    done = f"{t('sent')}: {t('cmd_' + form.action)} {form.gate_id} → {', '.join(sent.edges)}"
    return _back(request, {}, done)


def _back(request: Request, query: dict[str, str], message: str) -> RedirectResponse:
    """To the booth again (a reload never repeats a command), the form as it was if the
    command was refused."""
    kept = {k: v[:64] for k, v in query.items() if v}
    path = "/ui/gates?" + urllib.parse.urlencode(kept) if kept else "/ui/gates"
    return after_form(request, path, message)
