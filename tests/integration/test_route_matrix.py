"""Every route × every role × another compound. The routes are read from the application's
own route table (the web UI's are left out of the OpenAPI document, and the framing attack
came through one of them), so a new route fails here until it is added to `CALLS`,
`UI_CALLS` or `OUTSIDE`. Each is called by each role of compound c1 about compound c2's
records: a role outside the route's `MAY` gets the role's 403, a record of c2 is answered as
missing (404), a body naming one of c2's records is refused, nothing of c2 shows in any
answer, every answer forbids framing, and c2 is unchanged at the end. The edge's routes are
called with c1's edge token. Real HTTP, a real database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
import pytest
from sqlmodel import Session, col, select
from starlette.routing import BaseRoute

from hub import crud
from hub.tables import (
    Anomaly,
    AuditRecord,
    AuthToken,
    Card,
    Gate,
    Person,
    Pin,
    Plate,
    User,
    VisitorPass,
    WatchlistEntry,
    WorkOrder,
)
from models.evidence import SNAPSHOT_FLAG
from tests import factories
from tests.integration.conftest import ROLES, HubHttp
from tests.integration.test_web_ui import browser_login

pytestmark = pytest.mark.integration

# What c2 holds that nobody of c1 may ever see: names, numbers, plates, reasons.
MARKERS = ("外区", "9990001", "粤Z99999")
NOW = datetime.now(UTC)

Kind = Literal["foreign", "refers", "own", "edge", "session"]


@dataclass(frozen=True)
class Call:
    """How the matrix calls one operation. `foreign`: its path names c2's record (404 for
    every role the route admits); `refers`: its body names c2's records (refused); `own`:
    it reads or changes c1's own (nothing of c2 in the answer); `edge`: called with c1's
    edge token; `session`: logging in and out, outside the matrix."""

    kind: Kind
    body: dict[str, object] | None = None
    params: dict[str, str] = field(default_factory=dict)


CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/api/auth/login"): Call("session"),
    ("POST", "/api/auth/logout"): Call("session"),
    ("GET", "/api/events"): Call("own"),
    ("GET", "/api/events/{event_id}/snapshot"): Call("foreign"),
    ("GET", "/api/events.csv"): Call("own"),
    ("GET", "/api/occupancy"): Call("own"),
    ("GET", "/api/occupancy/series"): Call(
        "own",
        params={"since": (NOW - timedelta(hours=2)).isoformat(), "until": NOW.isoformat()},
    ),
    ("GET", "/api/anomalies"): Call("own"),
    ("GET", "/api/anomalies/{anomaly_id}"): Call("foreign"),
    ("POST", "/api/anomalies/{anomaly_id}/actions"): Call(
        "foreign", {"action": "acknowledge", "reason": "seen it"}
    ),
    ("POST", "/api/anomalies/scan"): Call("own"),
    ("POST", "/api/incidents"): Call(
        "own", {"category": "theft", "occurred_at": NOW.isoformat(), "summary": "a bicycle"}
    ),
    ("GET", "/api/incidents"): Call("own"),
    ("GET", "/api/zero-incident"): Call("own"),
    ("GET", "/api/district/zero-incident"): Call("own"),
    ("POST", "/api/work-orders"): Call("own", {"category": "dog", "description": "a loose dog"}),
    ("GET", "/api/work-orders"): Call("own"),
    ("POST", "/api/work-orders/{order_id}/steps"): Call("foreign", {"action": "respond"}),
    ("GET", "/api/population"): Call("own"),
    ("GET", "/api/edges"): Call("own"),
    ("GET", "/api/people"): Call("own"),
    ("POST", "/api/people"): Call(
        "refers", {"id": "p-new", "kind": "resident", "unit_id": "c2-101", "display_name": "x"}
    ),
    ("GET", "/api/people/{person_id}"): Call("foreign"),
    ("PATCH", "/api/people/{person_id}"): Call("foreign", {"display_name": "x"}),
    ("DELETE", "/api/people/{person_id}"): Call("foreign"),
    ("POST", "/api/people/{person_id}/cards"): Call(
        "foreign", {"id": "card-new", "number": "777777"}
    ),
    ("POST", "/api/people/{person_id}/plates"): Call(
        "foreign", {"id": "plate-new", "number": "鲁C12345"}
    ),
    ("POST", "/api/people/{person_id}/pins"): Call("foreign", {"id": "pin-new", "pin": "482913"}),
    ("DELETE", "/api/credentials/{kind}/{credential_id}"): Call("foreign"),
    ("POST", "/api/people/{person_id}/face"): Call(
        "foreign", {"consent": {"minor": False, "given_by": "self"}, "photos": ["aGVsbG8="]}
    ),
    ("GET", "/api/people/{person_id}/face"): Call("foreign"),
    ("DELETE", "/api/people/{person_id}/face"): Call("foreign"),
    ("POST", "/api/passes"): Call(
        "refers",
        {
            "id": "pass-new",
            "unit_id": "c2-101",
            "visitor_name": "x",
            "valid_from": NOW.isoformat(),
            "valid_until": (NOW + timedelta(hours=1)).isoformat(),
        },
    ),
    ("GET", "/api/passes"): Call("own"),
    ("GET", "/api/passes/{pass_id}/qr"): Call("foreign"),
    ("DELETE", "/api/passes/{pass_id}"): Call("foreign"),
    ("POST", "/api/watchlist"): Call(
        "own",
        {
            "id": "w-new",
            "target": "plate",
            "value": "京A8B3C1",
            "action": "deny",
            "reason": "stolen",
        },
    ),
    ("GET", "/api/watchlist"): Call("own"),
    ("DELETE", "/api/watchlist/{entry_id}"): Call("foreign"),
    ("POST", "/api/gates/{gate_id}/commands"): Call(
        "foreign", {"action": "open", "reason": "a visitor at the gate"}
    ),
    ("POST", "/api/walk-ins"): Call(
        "refers", {"gate_id": "gate-x", "unit_id": "c2-101", "visitor_name": "x"}
    ),
    ("GET", "/api/gates/waiting"): Call("own"),
    ("GET", "/api/vehicles/stays"): Call("own"),
    ("POST", "/api/buildings"): Call("own", {"id": "b-new", "name": "x"}),
    ("GET", "/api/units"): Call("own"),
    ("POST", "/api/units"): Call("refers", {"id": "u-new", "building_id": "c2-b1", "label": "x"}),
    ("GET", "/api/gates"): Call("own"),
    ("POST", "/api/gates"): Call(
        "refers", {"id": "g-new", "name": "x", "kind": "pedestrian", "building_id": "c2-b1"}
    ),
    ("POST", "/api/users"): Call(
        "refers",
        {
            "username": "u-new",
            "password": "a long password",
            "role": "resident",
            "unit_id": "c2-101",
        },
    ),
    ("GET", "/api/users"): Call("own"),
    ("POST", "/api/users/{username}/disable"): Call("foreign"),
    ("POST", "/api/users/{username}/enable"): Call("foreign"),
    ("DELETE", "/api/users/{username}/sessions"): Call("foreign"),
    ("GET", "/api/audit/verify"): Call("own"),
    ("GET", "/api/edge/registry"): Call("edge"),
    ("GET", "/api/edge/clock"): Call("edge"),
    ("POST", "/api/edge/passes/{pass_id}/entries"): Call(
        "edge", params={"entry": str(uuid.uuid4())}
    ),
    ("GET", "/api/edge/presence/{subject_id}"): Call("edge"),
}


# Which roles may use each route of the API (the role check; the compound check is apart).
_ALL = frozenset(ROLES)
_DESK = frozenset({"admin", "staff", "officer"})  # the compound's side of the counter
_MANAGERS = frozenset({"admin", "staff"})
_ADMIN = frozenset({"admin"})
_HOUSEHOLD = frozenset({"admin", "staff", "resident"})
_OFFICERS = frozenset({"admin", "officer"})
MAY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/events"): _ALL,
    ("GET", "/api/events/{event_id}/snapshot"): _DESK,
    ("GET", "/api/events.csv"): _ALL,
    ("GET", "/api/occupancy"): _DESK,
    ("GET", "/api/occupancy/series"): _DESK,
    ("GET", "/api/anomalies"): _DESK,
    ("GET", "/api/anomalies/{anomaly_id}"): _DESK,
    ("POST", "/api/anomalies/{anomaly_id}/actions"): _DESK,
    ("POST", "/api/anomalies/scan"): _DESK,
    ("POST", "/api/incidents"): _DESK,
    ("GET", "/api/incidents"): _DESK,
    ("GET", "/api/zero-incident"): _DESK,
    ("GET", "/api/district/zero-incident"): _DESK,
    ("POST", "/api/work-orders"): _ALL,
    ("GET", "/api/work-orders"): _ALL,
    ("POST", "/api/work-orders/{order_id}/steps"): _MANAGERS,
    ("GET", "/api/population"): _DESK,
    ("GET", "/api/edges"): _MANAGERS,
    ("GET", "/api/people"): _ALL,
    ("POST", "/api/people"): _MANAGERS,
    ("GET", "/api/people/{person_id}"): _ALL,
    ("PATCH", "/api/people/{person_id}"): _MANAGERS,
    ("DELETE", "/api/people/{person_id}"): _MANAGERS,
    ("POST", "/api/people/{person_id}/cards"): _MANAGERS,
    ("POST", "/api/people/{person_id}/plates"): _MANAGERS,
    ("POST", "/api/people/{person_id}/pins"): _MANAGERS,
    ("DELETE", "/api/credentials/{kind}/{credential_id}"): _MANAGERS,
    ("POST", "/api/people/{person_id}/face"): _MANAGERS,
    ("GET", "/api/people/{person_id}/face"): _ALL,
    ("DELETE", "/api/people/{person_id}/face"): _HOUSEHOLD,
    ("POST", "/api/passes"): _HOUSEHOLD,
    ("GET", "/api/passes"): _HOUSEHOLD,
    ("GET", "/api/passes/{pass_id}/qr"): _HOUSEHOLD,
    ("DELETE", "/api/passes/{pass_id}"): _HOUSEHOLD,
    ("POST", "/api/watchlist"): _OFFICERS,
    ("GET", "/api/watchlist"): _OFFICERS,
    ("DELETE", "/api/watchlist/{entry_id}"): _OFFICERS,
    ("POST", "/api/gates/{gate_id}/commands"): _MANAGERS,
    ("POST", "/api/walk-ins"): _MANAGERS,
    ("GET", "/api/gates/waiting"): _MANAGERS,
    ("GET", "/api/vehicles/stays"): _DESK,
    ("POST", "/api/buildings"): _MANAGERS,
    ("GET", "/api/units"): _MANAGERS,
    ("POST", "/api/units"): _MANAGERS,
    ("GET", "/api/gates"): _MANAGERS,
    ("POST", "/api/gates"): _ADMIN,
    ("POST", "/api/users"): _ADMIN,
    ("GET", "/api/users"): _ADMIN,
    ("POST", "/api/users/{username}/disable"): _ADMIN,
    ("POST", "/api/users/{username}/enable"): _ADMIN,
    ("DELETE", "/api/users/{username}/sessions"): _ADMIN,
    ("GET", "/api/audit/verify"): _ADMIN,
}

# The web UI's routes, called with each role's session cookie; `form` bodies are posted as
# forms. `MAY_UI`: the roles a page or form serves (the others are refused or sent away).
UI_CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/ui/login"): Call("session"),
    ("POST", "/ui/login"): Call("session"),
    ("POST", "/ui/logout"): Call("session"),
    ("GET", "/ui/"): Call("own"),
    ("GET", "/ui/live"): Call("own"),
    ("GET", "/ui/entries"): Call("own"),
    ("GET", "/ui/entries.csv"): Call("own"),
    ("GET", "/ui/entries/{event_id}/snapshot"): Call("foreign"),
    ("GET", "/ui/anomalies"): Call("own"),
    ("POST", "/ui/anomalies/scan"): Call("own"),
    ("GET", "/ui/anomalies/{anomaly_id}"): Call("foreign"),
    ("POST", "/ui/anomalies/{anomaly_id}"): Call(
        "foreign", {"action": "acknowledge", "reason": "seen it"}
    ),
    ("GET", "/ui/incidents"): Call("own"),
    ("POST", "/ui/incidents"): Call(
        "own", {"category": "theft", "occurred_at": "2026-12-01T08:00", "summary": "a bicycle"}
    ),
    ("POST", "/ui/work-orders"): Call("own", {"category": "dog", "description": "a loose dog"}),
    ("POST", "/ui/work-orders/{order_id}"): Call("foreign", {"action": "respond"}),
    ("GET", "/ui/gates"): Call("own"),
    ("GET", "/ui/gates/waiting"): Call("own"),
    ("GET", "/ui/gates/inside"): Call("own"),
    ("POST", "/ui/gates/commands"): Call(
        "refers", {"gate_id": "gate-x", "action": "open", "reason": "a visitor at the gate"}
    ),
    ("GET", "/ui/residents"): Call("own"),
}

MAY_UI: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/ui/"): _DESK,
    ("GET", "/ui/live"): _DESK,
    ("GET", "/ui/entries"): _ALL,
    ("GET", "/ui/entries.csv"): _ALL,
    ("GET", "/ui/entries/{event_id}/snapshot"): _DESK,
    ("GET", "/ui/anomalies"): _DESK,
    ("POST", "/ui/anomalies/scan"): _DESK,
    ("GET", "/ui/anomalies/{anomaly_id}"): _DESK,
    ("POST", "/ui/anomalies/{anomaly_id}"): _DESK,
    ("GET", "/ui/incidents"): _ALL,
    ("POST", "/ui/incidents"): _DESK,
    ("POST", "/ui/work-orders"): _ALL,
    ("POST", "/ui/work-orders/{order_id}"): _MANAGERS,
    ("GET", "/ui/gates"): _MANAGERS,
    ("GET", "/ui/gates/waiting"): _MANAGERS,
    ("GET", "/ui/gates/inside"): _MANAGERS,
    ("POST", "/ui/gates/commands"): _MANAGERS,
    ("GET", "/ui/residents"): _DESK,
}

# Routes with nothing of any compound's behind them: the way in, the documentation, the
# health check, the metrics (a token of their own), the UI's scripts and styles.
OUTSIDE = {
    ("GET", "/"),
    ("GET", "/docs"),
    ("HEAD", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("HEAD", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("HEAD", "/redoc"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("*", "/ui/static"),
}


def _c2(hub_http: HubHttp) -> dict[str, str]:
    """Compound c2's records, one of each kind a route names; their ids by path parameter
    (c2's officer logged in: a session nobody of c1 may end)."""
    hub_http.client("officer", "c2")
    entry = factories.entry(
        compound_id="c2", subject_id="p-x", reference="9990001", flags=(SNAPSHOT_FLAG,)
    )
    with Session(hub_http.engine) as session:
        session.add(
            Person(
                id="p-x",
                compound_id="c2",
                kind="resident",
                unit_id="c2-101",
                display_name="外区住户",
            )
        )
        session.add(Gate(id="gate-x", compound_id="c2", name="外区门", kind="pedestrian"))
        session.flush()
        session.add(Card(id="card-x", compound_id="c2", person_id="p-x", number="9990001"))
        session.add(Plate(id="plate-x", compound_id="c2", person_id="p-x", number="粤Z99999"))
        session.add(Pin(id="pin-x", compound_id="c2", person_id="p-x", digest="9" * 64))
        session.add(
            VisitorPass(
                id="pass-x",
                compound_id="c2",
                unit_id="c2-101",
                visitor_name="外区访客",
                valid_from=NOW - timedelta(hours=1),
                valid_until=NOW + timedelta(hours=3),
                created_by="c2-staff",
            )
        )
        session.add(
            WatchlistEntry(
                id="w-x",
                compound_id="c2",
                kind="plate",
                value="粤Z99999",
                action="alert",
                reason="外区原因",
                created_by="c2-officer",
            )
        )
        anomaly = Anomaly(
            compound_id="c2",
            rule="overstay",
            key="粤Z99999",
            subject="粤Z99999",
            summary="外区异常",
            first_at=NOW,
            last_at=NOW,
            created_at=NOW,
        )
        order = WorkOrder(
            compound_id="c2",
            category="dog",
            description="外区工单",
            reported_by="c2-resident",
            reported_at=NOW,
            due_at=NOW + timedelta(minutes=30),
        )
        session.add(anomaly)
        session.add(order)
        crud.store_events(session=session, events=[entry])
        session.commit()
        return {
            "event_id": str(entry.event_id),
            "anomaly_id": str(anomaly.id),
            "order_id": str(order.id),
            "person_id": "p-x",
            "kind": "card",
            "credential_id": "card-x",
            "pass_id": "pass-x",
            "entry_id": "w-x",
            "gate_id": "gate-x",
            "subject_id": "p-x",
            "username": "c2-officer",
        }


def _route_table(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, str]]:
    """Every (method, path) the application answers, included routers opened up."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            yield from _route_table(included.routes)
            continue
        methods = getattr(route, "methods", None) or {"*"}  # a mount answers any method
        yield from ((method, getattr(route, "path", "")) for method in methods)


def test_every_route_is_in_the_matrix(hub_http: HubHttp) -> None:
    table = set(_route_table(hub_http.app.routes))
    assert len(table) > 80  # the walk reached into the included routers
    assert table == set(CALLS) | set(UI_CALLS) | OUTSIDE
    assert set(MAY) == {op for op, call in CALLS.items() if call.kind not in ("edge", "session")}
    assert set(MAY_UI) == {op for op, call in UI_CALLS.items() if call.kind != "session"}
    openapi = httpx.get(f"{hub_http.base_url}/openapi.json").json()["paths"]
    assert {(m.upper(), p) for p, ops in openapi.items() for m in ops} <= table


def _problems(role: str, method: str, path: str, call: Call, response: httpx.Response) -> list[str]:
    where = f"{role} {method} {path} → {response.status_code}"
    found = [f"{where}: shows {m}" for m in MARKERS if m in response.text]
    status = response.status_code
    if status >= 500:
        found.append(f"{where}: a server error")
    role_refused = status == 403 and response.json()["detail"] == f"a {role} may not do this"
    if role not in MAY[(method, path)]:
        return found + ([] if role_refused else [f"{where}: the role should be refused"])
    if role_refused:
        found.append(f"{where}: the role is refused, and should not be")
    elif status == 403 and call.kind != "refers":  # the compound's check answers 404
        found.append(f"{where}: a 403 that is not the role's: {response.json()['detail']}")
    if "frame-ancestors 'none'" not in response.headers.get("content-security-policy", ""):
        found.append(f"{where}: may be framed")
    if call.kind == "foreign" and status not in (403, 404):
        found.append(f"{where}: another compound's record answered")
    if call.kind == "refers" and status < 400:
        found.append(f"{where}: another compound's record taken")
    return found


def test_no_role_of_one_compound_reaches_anothers_records(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    ids = _c2(hub_http)
    problems: list[str] = []
    reached: set[tuple[str, str]] = set()
    for role in ROLES:
        client = hub_http.client(role, "c1")
        client.headers["X-Audit-Reason"] = "case 2026-117"
        for (method, path), call in CALLS.items():
            if call.kind in ("edge", "session"):
                continue
            url = path.format(**ids)
            try:
                response = client.request(method, url, json=call.body, params=call.params)
            except httpx.HTTPError as exc:  # a broken answer is one problem among the rest
                problems.append(f"{role} {method} {path}: {exc!r}")
                continue
            problems += _problems(role, method, path, call, response)
            if call.kind == "foreign" and response.status_code == 404:
                reached.add((method, path))
    foreign = {op for op, call in CALLS.items() if call.kind == "foreign"}
    assert problems == []
    assert reached == foreign, "some role must get past the role check to the record"
    _c2_is_unchanged(hub_http)


def _ui_problems(role: str, method: str, path: str, response: httpx.Response) -> list[str]:
    where = f"{role} {method} {path} (UI) → {response.status_code}"
    found = [f"{where}: shows {m}" for m in MARKERS if m in response.text]
    status = response.status_code
    if status >= 500:
        found.append(f"{where}: a server error")
    if "frame-ancestors 'none'" not in response.headers.get("content-security-policy", ""):
        found.append(f"{where}: may be framed")
    if role not in MAY_UI[(method, path)] and status != 403:
        found.append(f"{where}: the role should be refused")
    if role in MAY_UI[(method, path)] and status == 403:
        found.append(f"{where}: the role is refused, and should not be")
    if UI_CALLS[(method, path)].kind == "foreign" and method == "GET" and status == 200:
        found.append(f"{where}: another compound's record shown")
    return found


def test_no_role_of_one_compound_reaches_anothers_records_through_the_pages(
    hub_http: HubHttp,
) -> None:
    ids = _c2(hub_http)
    problems: list[str] = []
    for role in ROLES:
        client = browser_login(hub_http, role, "case 2026-117" if role == "officer" else "")
        client.follow_redirects = False
        for (method, path), call in UI_CALLS.items():
            if call.kind == "session":
                continue
            response = client.request(method, path.format(**ids), data=call.body)
            problems += _ui_problems(role, method, path, response)
    assert problems == []
    _c2_is_unchanged(hub_http)
    with Session(hub_http.engine) as session:
        commands = session.exec(
            select(AuditRecord).where(col(AuditRecord.target).startswith("gate:gate-x"))
        ).all()
    assert commands == []  # no command for c2's gate was signed or sent


def test_an_edge_of_one_compound_learns_nothing_of_anothers(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    ids = _c2(hub_http)
    answers = {}
    for (method, path), call in CALLS.items():
        if call.kind == "edge":
            response = edge_http.request(method, path.format(**ids), params=call.params)
            assert response.status_code == 200, path
            assert not any(m in response.text for m in MARKERS), path
            answers[path] = response.json()
    assert "pass-x" not in str(answers["/api/edge/registry"])
    counted = answers["/api/edge/passes/{pass_id}/entries"]
    assert counted == {"granted": False, "entries": 0, "max_entries": 0}
    assert answers["/api/edge/presence/{subject_id}"] == {"direction": None, "at": None}
    _c2_is_unchanged(hub_http)


def _c2_is_unchanged(hub_http: HubHttp) -> None:
    with Session(hub_http.engine) as session:
        person = session.get(Person, "p-x")
        assert person is not None and person.display_name == "外区住户"
        assert {c.id for c in session.exec(select(Card))} == {"card-x"}
        visitor_pass = session.get(VisitorPass, "pass-x")
        assert visitor_pass is not None and visitor_pass.revoked_at is None
        assert visitor_pass.entries_used == 0
        assert session.get(WatchlistEntry, "w-x") is not None
        anomalies = session.exec(select(Anomaly).where(col(Anomaly.compound_id) == "c2"))
        assert [a.status for a in anomalies] == ["open"]
        orders = session.exec(select(WorkOrder).where(col(WorkOrder.compound_id) == "c2"))
        assert [o.status for o in orders] == ["open"]
        users = session.exec(select(User).where(col(User.compound_id) == "c2"))
        assert all(u.disabled_at is None for u in users)
        officer = session.exec(select(User).where(col(User.username) == "c2-officer")).one()
        assert session.exec(select(AuthToken).where(col(AuthToken.user_id) == officer.id)).all()
