"""Accounts follow tenancy (the finding: a resident who moved out kept a working account,
read the new occupant's entries and issued a 30-day, 100-entry pass that opened the gate).
Move-out closes the holder's accounts, ends their sessions and revokes the passes they
issued that nobody used; administrators list, close, reopen and log out accounts."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
from sqlmodel import Session, col, select

from hub.tables import AuditRecord, utcnow
from tests.integration.conftest import PASSWORD, ROLES, HubHttp

pytestmark = pytest.mark.integration


def _tenant(hub_http: HubHttp, person_id: str = "p-tenant", username: str = "tenant") -> None:
    staff, admin = hub_http.client("staff"), hub_http.client("admin")
    person = {"id": person_id, "kind": "resident", "unit_id": "c1-101", "display_name": "王租户"}
    assert staff.post("/api/people", json=person).status_code == 201
    user = {
        "username": username,
        "password": PASSWORD,
        "role": "resident",
        "unit_id": "c1-101",
        "person_id": person_id,
    }
    assert admin.post("/api/users", json=user).status_code == 201


def _pass(pass_id: str) -> dict[str, object]:
    now = utcnow()
    return {
        "id": pass_id,
        "unit_id": "c1-101",
        "visitor_name": "朋友",
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
        "max_entries": 100,
    }


def _login(hub_http: HubHttp, username: str) -> httpx.Response:
    body = {"username": username, "password": PASSWORD}
    return hub_http.anonymous().post("/api/auth/login", json=body)


def test_move_out_closes_the_account_its_sessions_and_its_unused_passes(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    _tenant(hub_http)
    tenant = hub_http.login("tenant")
    assert tenant.post("/api/passes", json=_pass("pass-unused")).status_code == 201
    assert tenant.post("/api/passes", json=_pass("pass-used")).status_code == 201
    used = edge_http.post("/api/edge/passes/pass-used/entries", params={"entry": str(uuid4())})
    assert used.json()["granted"]

    staff = hub_http.client("staff")
    assert staff.delete("/api/people/p-tenant").status_code == 204

    assert tenant.get("/api/events").status_code == 401  # the session is gone
    refused = _login(hub_http, "tenant")
    assert refused.status_code == 401 and "closed" in refused.json()["detail"]
    passes = {p["id"]: p for p in staff.get("/api/passes").json()["items"]}
    assert passes["pass-unused"]["revoked"]
    assert passes["pass-used"]["revoked"]  # used once, entries left: it would open again
    counted = edge_http.post("/api/edge/passes/pass-unused/entries", params={"entry": str(uuid4())})
    assert counted.json()["granted"] is False
    registry = edge_http.get("/api/edge/registry", params={"since": 0}).text
    assert "pass-unused" not in registry
    with Session(hub_http.engine) as session:
        targets = session.exec(
            select(AuditRecord.target).where(col(AuditRecord.action) == "delete")
        ).all()
    # The unit's own resident account (it names no holder) closes too: its last registered
    # resident has gone, so the unit changes occupant.
    closed = "accounts closed: tenant, c1-resident; passes revoked: pass-unused, pass-used"
    assert targets == [f"person:p-tenant ({closed})"]
    assert _login(hub_http, "c1-resident").status_code == 401


def test_a_holder_who_leaves_the_unit_loses_its_resident_account(hub_http: HubHttp) -> None:
    _tenant(hub_http)
    tenant = hub_http.login("tenant")
    staff = hub_http.client("staff")
    assert staff.patch("/api/people/p-tenant", json={"unit_id": "c1-102"}).status_code == 200
    assert tenant.get("/api/events").status_code == 401
    assert _login(hub_http, "tenant").status_code == 401
    # The unit's last resident left it: its account naming no holder closes too.
    assert _login(hub_http, "c1-resident").status_code == 401


def test_an_administrator_lists_closes_reopens_and_logs_out_accounts(hub_http: HubHttp) -> None:
    admin = hub_http.client("admin")
    officer = hub_http.client("officer")
    listed = admin.get("/api/users").json()
    assert [u["username"] for u in listed["items"]] == [f"c1-{r}" for r in sorted(ROLES)]
    assert listed["total"] == len(ROLES) and "c2-admin" not in str(listed)

    closed = admin.post("/api/users/c1-officer/disable").json()
    assert closed["disabled_at"] is not None
    assert officer.get("/api/occupancy").status_code == 401
    assert _login(hub_http, "c1-officer").status_code == 401
    assert admin.post("/api/users/c1-officer/enable").json()["disabled_at"] is None
    again = hub_http.login("c1-officer")
    assert again.get("/api/occupancy").status_code == 200

    ended = admin.delete("/api/users/c1-officer/sessions").json()
    assert ended == {"username": "c1-officer", "sessions": 1}
    assert again.get("/api/occupancy").status_code == 401
    assert admin.post("/api/users/c2-officer/disable").status_code == 404  # not its compound
