"""The UI's pages: login, dashboard, entry log. Every page reads through the same functions
as the API, and every read of personal data is audited like the API's."""

from __future__ import annotations

import threading
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, ValidationError

from hub import audit, auth, crud
from hub.analytics import casework, occupancy
from hub.analytics.casework import Status
from hub.api.deps import ServicesDep, SessionDep
from hub.api.errors import status_of
from hub.auth import Role
from hub.callers import Caller
from hub.entry_log import (
    EXPORT_LIMIT,
    SNAPSHOT_HEADERS,
    EventQuery,
    entry_csv,
    entry_filter,
    snapshot_of,
)
from hub.errors import HubError, InvalidInput, Unauthenticated
from hub.schemas.events import EntryPublic
from hub.tables import as_utc, utcnow
from hub.web import charts, i18n
from hub.web.session import (
    LANGUAGE_COOKIE,
    PURPOSE_COOKIE,
    SESSION_COOKIE,
    Anyone,
    Staff,
    messages,
    same_origin,
    write_purpose,
)

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _local(at: datetime, zone: ZoneInfo | None) -> str:
    """A stored time as the compound's clock shows it (UTC when no zone is given, or when
    the zone would carry it past the calendar's end: any date the database holds renders)."""
    utc = as_utc(at)
    try:
        return utc.astimezone(zone or UTC).strftime("%Y-%m-%d %H:%M:%S")
    except OverflowError:
        return utc.strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["local"] = _local
FILTER_FIELDS = (
    "since",
    "until",
    "gate_id",
    "method",
    "decision",
    "person_id",
    "plate",
    "plate_prefix",
)


class LoginForm(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    purpose: str = Field("", max_length=300)


def language(request: Request) -> str:
    return i18n.pick(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )


def render(request: Request, name: str, caller: Caller | None, **context: Any) -> HTMLResponse:
    """A whole page, with the message a form's answer left for it (`after_form`)."""
    token = request.cookies.get(SESSION_COOKIE)
    message = messages(request).take(token, request.url.path, time.monotonic())
    return fragment(request, name, caller, message=message, **context)


def fragment(request: Request, name: str, caller: Caller | None, **context: Any) -> HTMLResponse:
    """Part of a page, which its script fetches again and again (it takes no message)."""
    lang = language(request)
    poll_ms = round(request.app.state.services.settings.ui_poll_s * 1000)
    context |= {"t": i18n.translator(lang), "lang": lang, "caller": caller, "poll_ms": poll_ms}
    response = templates.TemplateResponse(request, name, context)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, samesite="strict")
    return response


@router.get("/login")
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, error=error)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    form: Annotated[LoginForm, Form()],
) -> Response:
    purpose = form.purpose
    try:
        token, expires = auth.login(
            session=session,
            settings=services.settings,
            username=form.username,
            password=form.password,
        )
    except Unauthenticated:
        return RedirectResponse("/ui/login?error=login_refused", status_code=303)
    role = Role(auth.user_for_token(session=session, token=token).role)
    if role is Role.OFFICER and not purpose.strip():
        auth.logout(session=session, token=token)
        return RedirectResponse("/ui/login?error=purpose_needed", status_code=303)
    home = "/ui/entries" if role is Role.RESIDENT else "/ui/"
    response = RedirectResponse(home, status_code=303)
    max_age = int((expires - utcnow()).total_seconds())
    secure = services.settings.served_over_https(request.url.scheme)
    for name, value in ((SESSION_COOKIE, token), (PURPOSE_COOKIE, write_purpose(purpose))):
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="strict", secure=secure
        )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(session=session, token=token)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(PURPOSE_COOKIE)
    return response


@router.get("/")
def dashboard(
    request: Request, caller: Staff, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    policy = services.settings.analytics
    now = utcnow()
    counts = occupancy.series(
        session=session,
        compound_id=caller.compound_id,
        presence=policy.presence,
        since=now - timedelta(hours=24),
        until=now,
        step=timedelta(hours=1),
    )  # the last point is now, the same count as the cards above the chart
    t = i18n.translator(language(request))
    people = [c.total_people for c in counts]
    vehicles = [sum(c.vehicles.values()) for c in counts]
    lines = [
        charts.Line(t("people"), "people", people),
        charts.Line(t("vehicles"), "vehicles", vehicles),
    ]
    chart = charts.line_chart([c.at for c in counts], lines, policy.zone)
    anomalies = casework.listing(
        session=session, compound_id=caller.compound_id, status=Status.OPEN, rule=None, limit=10
    )
    caller.audit("read", "ui:dashboard")
    return render(
        request,
        "dashboard.html",
        caller,
        now=counts[-1],  # the series ends now: the cards and the chart agree
        chart=chart,
        edges=crud.list_edges(session=session, compound_id=caller.compound_id),
        anomalies=anomalies,
        entries=_latest(session, caller),
        zone=policy.zone,
    )


@router.get("/live")
def live(
    request: Request, caller: Staff, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """The dashboard's live entries, polled by the page every few seconds (audited like the
    dashboard, by `audit_poll`)."""
    audit_poll(request, caller, "ui:live")
    rows = _latest(session, caller)
    return fragment(
        request, "live.html", caller, entries=rows, zone=services.settings.analytics.zone
    )


@router.get("/entries")
def entries(
    request: Request, caller: Anyone, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    zone = services.settings.analytics.zone
    form = {k: request.query_params.get(k, "") for k in FILTER_FIELDS}
    error = None
    rows: list[EntryPublic] = []
    next_cursor = None
    try:
        query = _query(form, request.query_params.get("cursor"), zone)
        page, next_cursor = crud.list_entries(
            session=session,
            filters=entry_filter(caller, session, query),
            limit=50,
            cursor=query.cursor,
        )
        rows = [EntryPublic.of(row) for row in page]
        caller.audit("read", "ui:entries")
    except (ValidationError, HubError) as exc:
        error = _first_error(exc)
    return render(
        request,
        "entries.html",
        caller,
        form=form,
        rows=rows,
        next_cursor=next_cursor,
        error=error,
        zone=zone,
        query_string=_without_cursor(request),
    )


@router.get("/entries/{event_id}/snapshot")
def entry_snapshot(
    event_id: uuid.UUID,
    request: Request,
    caller: Staff,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """A decision's snapshot, fetched from its edge as the API does (and audited as it is);
    why there is none, as a page."""
    try:
        jpeg = snapshot_of(event_id, caller, session, services)
    except HubError as exc:
        return bare_page(request, "no_snapshot", str(exc), status_of(exc))
    return Response(jpeg, media_type="image/jpeg", headers=SNAPSHOT_HEADERS)


def bare_page(
    request: Request, key: str, detail: str | None, status: int, back: str | None = None
) -> HTMLResponse:
    """A one-line page in the user's language (the text `key`, with `detail`), for what
    opens in a tab of its own or where there is no page to go back to."""
    t = i18n.translator(language(request))
    said = t(key) + (f": {escape(detail)}" if detail else "")
    link = f'<p><a href="{back}">→</a></p>' if back else ""
    return HTMLResponse(f'<!doctype html><meta charset="utf-8"><p>{said}</p>{link}', status)


@router.get("/entries.csv")
def entries_csv(
    request: Request, caller: Anyone, session: SessionDep, services: ServicesDep
) -> Response:
    form = {k: request.query_params.get(k, "") for k in FILTER_FIELDS}
    try:
        query = _query(form, None, services.settings.analytics.zone)
        filters = entry_filter(caller, session, query)
    except (ValidationError, HubError) as exc:
        return Response(_first_error(exc), status_code=422, media_type="text/plain")
    caller.audit("export", "ui:entries")
    rows = crud.iter_entries(session=session, filters=filters, limit=EXPORT_LIMIT)
    headers = {"Content-Disposition": 'attachment; filename="anju-entries.csv"'}
    return StreamingResponse(entry_csv(rows), media_type="text/csv", headers=headers)


POLL_AUDIT_S = 900.0


def audit_poll(request: Request, caller: Caller, page: str, items: Sequence[str] = ()) -> None:
    """A read by a page that polls every few seconds: each of `items` (whom and what it
    shows) is audited when the page first shows it to its user and again every
    `POLL_AUDIT_S` while it stays, not at every poll; a page showing none, as `page` alone.
    What was audited when is kept by the app (`PollAudits`), for each user and page."""
    memory: PollAudits = request.app.state.poll_audits
    viewer, now = (caller.user.username, page), time.monotonic()
    due = memory.due(viewer, list(items) or [page], now)
    if due:
        for target in audit.targets(page, due) if items else [page]:
            caller.audit("read", target)
        memory.audited(viewer, due, now)  # not before: a read whose record failed is due


class PollAudits:
    """When each thing a polling page showed was last audited, by user and page; what has
    not been audited for `POLL_AUDIT_S` is forgotten (it is due again anyway). Polls run on
    the server's threads at once (two tabs, two booths on one account): one lock."""

    def __init__(self) -> None:
        self._audited: dict[tuple[str, str], dict[str, float]] = {}
        self._lock = threading.Lock()

    def due(self, viewer: tuple[str, str], keys: list[str], now: float) -> list[str]:
        """Those of `keys` to audit now."""
        with self._lock:
            audited = self._audited.setdefault(viewer, {})
            for key in [k for k, at in audited.items() if now - at >= POLL_AUDIT_S]:
                del audited[key]
            return [key for key in keys if key not in audited]

    def audited(self, viewer: tuple[str, str], keys: list[str], now: float) -> None:
        with self._lock:
            self._audited.setdefault(viewer, {}).update(dict.fromkeys(keys, now))


def _latest(session: SessionDep, caller: Caller) -> list[EntryPublic]:
    rows, _ = crud.list_entries(
        session=session, filters=crud.EntryFilter(compound_id=caller.compound_id), limit=15
    )
    return [EntryPublic.of(row) for row in rows]


def local_time(text: str, zone: ZoneInfo) -> datetime:
    """A time typed in a form (a datetime-local field: the compound's local time)."""
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=zone)
    except ValueError as exc:
        raise InvalidInput(f"not a date and time: {text[:40]!r}") from exc


def _query(form: dict[str, str], cursor: str | None, zone: ZoneInfo) -> EventQuery:
    """The filter form's fields as the API's query; times typed in local time."""
    values: dict[str, Any] = {k: v.strip() for k, v in form.items() if v.strip()}
    for name in ("since", "until"):
        if name in values:
            values[name] = local_time(values[name], zone)
    return EventQuery(**values, limit=50, cursor=cursor or None)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problem = exc.errors()[0]
        return f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
    return str(exc)


def _without_cursor(request: Request) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return urllib.parse.urlencode(kept)
