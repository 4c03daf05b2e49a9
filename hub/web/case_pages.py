"""The UI's pages for casework: anomalies, incidents and work orders, residents. Forms post
back here and the browser is sent on to the page again (so a reload never repeats a step);
a refused step comes back as a message on the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from hub import audited
from hub.analytics import casework, incidents, population
from hub.analytics.casework import Action, Status
from hub.analytics.incidents import Category, OrderStatus, Period
from hub.api.deps import ServicesDep, SessionDep
from hub.api.params import RowId
from hub.auth import Role
from hub.errors import HubError
from hub.schemas.anomalies import AnomalyDetail
from hub.tables import utcnow
from hub.web.pages import local_time, render
from hub.web.session import Anyone, Handler, Staff, after_form, same_origin
from models.events import Text

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])


class StepForm(BaseModel):
    action: Action
    reason: Text = Field(max_length=500)
    assignee: str = Field("", max_length=64)


class IncidentForm(BaseModel):
    category: Category
    occurred_at: str = Field(max_length=32, description="Local time, as a datetime-local field")
    summary: Text = Field(min_length=3, max_length=1000)


class OrderForm(BaseModel):
    category: str = Field(min_length=2, max_length=32)
    description: Text = Field(min_length=3, max_length=1000)


class OrderStepForm(BaseModel):
    action: incidents.Step
    owner: str = Field("", max_length=64)
    note: Text = Field("", max_length=1000)


@router.get("/anomalies")
def anomalies_page(
    request: Request,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
    status: Status | None = None,
) -> HTMLResponse:
    rows = casework.listing(
        session=session, compound_id=caller.compound_id, status=status, rule=None, limit=200
    )
    caller.audit("read", "ui:anomalies")
    zone = services.settings.analytics.zone
    return render(request, "anomalies.html", caller, rows=rows, status=status, zone=zone)


@router.post("/anomalies/scan")
def scan(
    request: Request, caller: Staff, session: SessionDep, services: ServicesDep
) -> RedirectResponse:
    report = casework.scan(
        session=session,
        compound_id=caller.compound_id,
        policy=services.settings.analytics,
        now=utcnow(),
    )
    audited.commit(session, caller.note("scan", "anomalies"))
    return after_form(request, "/ui/anomalies", f"{report.new} + {report.reopened}")


@router.get("/anomalies/{anomaly_id}")
def anomaly_page(
    anomaly_id: RowId, request: Request, caller: Staff, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    row = casework.get(session=session, compound_id=caller.compound_id, anomaly_id=anomaly_id)
    caller.audit("read", f"anomaly:{anomaly_id}")
    return render(
        request,
        "anomaly.html",
        caller,
        case=AnomalyDetail.of_case(casework.case_file(session=session, anomaly=row)),
        actions=[a.value for a in Action],
        zone=services.settings.analytics.zone,
    )


@router.post("/anomalies/{anomaly_id}")
def anomaly_step(
    anomaly_id: RowId,
    request: Request,
    caller: Staff,
    session: SessionDep,
    form: Annotated[StepForm, Form()],
) -> RedirectResponse:
    try:
        casework.act(
            session=session,
            compound_id=caller.compound_id,
            anomaly_id=anomaly_id,
            action=form.action,
            actor=caller.user.username,
            reason=form.reason,
            assignee=form.assignee or None,
            now=utcnow(),
        )
    except HubError as exc:
        return after_form(request, f"/ui/anomalies/{anomaly_id}", str(exc))
    audited.commit(session, caller.note(form.action.value, f"anomaly:{anomaly_id}"))
    return after_form(request, f"/ui/anomalies/{anomaly_id}")


@router.get("/incidents")
def incidents_page(
    request: Request, caller: Anyone, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    zone = services.settings.analytics.zone
    today = utcnow().astimezone(zone).date()
    period = Period(first=today.replace(day=1), last=today, zone=zone)
    resident = caller.role is Role.RESIDENT
    orders = incidents.list_orders(
        session=session,
        compound_id=caller.compound_id,
        status=None,
        limit=100,
        reported_by=caller.user.username if resident else None,
    )
    caller.audit("read", "ui:incidents")
    context = {
        "orders": orders,
        "overdue": {o.id for o in orders if incidents.overdue(o, utcnow())},
        "zone": zone,
        "categories": [c.value for c in Category],
        "statuses": [s.value for s in OrderStatus],
    }
    if not resident:
        context |= {
            "rate": incidents.zero_incident(
                session=session, compound_id=caller.compound_id, period=period
            ),
            "district": incidents.district(session=session, period=period),
            "period": period,
            "incidents": incidents.list_incidents(
                session=session, compound_id=caller.compound_id, limit=50
            ),
        }
    return render(request, "incidents.html", caller, **context)


@router.post("/incidents")
def record_incident(
    request: Request,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
    form: Annotated[IncidentForm, Form()],
) -> RedirectResponse:
    zone = services.settings.analytics.zone
    try:
        occurred = local_time(form.occurred_at, zone)
        incidents.record(
            session=session,
            compound_id=caller.compound_id,
            category=form.category,
            occurred_at=occurred,
            summary=form.summary,
            recorded_by=caller.user.username,
            now=utcnow(),
        )
    except (ValueError, HubError) as exc:
        return after_form(request, "/ui/incidents", str(exc))
    audited.commit(session, caller.note("record", "incident"))
    return after_form(request, "/ui/incidents")


@router.post("/work-orders")
def report_order(
    request: Request,
    caller: Anyone,
    session: SessionDep,
    services: ServicesDep,
    form: Annotated[OrderForm, Form()],
) -> RedirectResponse:
    order = incidents.report(
        session=session,
        compound_id=caller.compound_id,
        category=form.category,
        description=form.description,
        reported_by=caller.user.username,
        now=utcnow(),
        response_minutes=services.settings.analytics.response_minutes,
    )
    audited.commit(session, caller.note("report", f"work-order:{order.id}"))
    return after_form(request, "/ui/incidents")


@router.post("/work-orders/{order_id}")
def order_step(
    order_id: RowId,
    request: Request,
    caller: Handler,
    session: SessionDep,
    form: Annotated[OrderStepForm, Form()],
) -> RedirectResponse:
    try:
        incidents.step(
            session=session,
            compound_id=caller.compound_id,
            order_id=order_id,
            action=form.action,
            owner=form.owner or caller.user.username,
            note=form.note,
            now=utcnow(),
        )
    except HubError as exc:
        return after_form(request, "/ui/incidents", str(exc))
    audited.commit(session, caller.note(form.action, f"work-order:{order_id}"))
    return after_form(request, "/ui/incidents")


@router.get("/residents")
def residents_page(
    request: Request, caller: Staff, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    policy = services.settings.analytics
    people = population.register(session=session, compound_id=caller.compound_id, limit=500)
    found = population.reconcile(
        session=session, compound_id=caller.compound_id, policy=policy, now=utcnow()
    )
    caller.audit("read", "ui:residents")
    return render(
        request,
        "residents.html",
        caller,
        people=people,
        absent=found.absent,
        regulars=found.regulars,
        zone=policy.zone,
    )
