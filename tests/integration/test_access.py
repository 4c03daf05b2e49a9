"""Who may do what through the hub's API: roles, compounds, residents' own units, officers'
reasons, lockout, expiry, and the audit chain. Real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, col, select

from hub.tables import AuditRecord, AuthToken, utcnow
from tests.integration.conftest import PASSWORD, HubHttp

pytestmark = pytest.mark.integration


@pytest.fixture
def people(hub_http: HubHttp) -> dict[str, str]:
    """A person in each unit of c1 (with a card) and one in c2."""
    ids = {"c1-101": "p-a", "c1-102": "p-b", "c2-101": "p-x"}
    for unit, person_id in ids.items():
        staff = hub_http.client("staff", unit.split("-")[0])
        body = {"id": person_id, "kind": "resident", "unit_id": unit, "display_name": "某人"}
        assert staff.post("/api/people", json=body).status_code == 201
        card = {"id": f"card-{person_id}", "number": str(abs(hash(person_id)) % 10**9)}
        assert staff.post(f"/api/people/{person_id}/cards", json=card).status_code == 201
    return ids


ID_ROUTES = [
    ("GET", "/api/people/{id}", None),
    ("PATCH", "/api/people/{id}", {"display_name": "x"}),
    ("POST", "/api/people/{id}/cards", {"id": "card-new", "number": "777777"}),
    ("POST", "/api/people/{id}/plates", {"id": "plate-new", "number": "鲁C12345"}),
    ("POST", "/api/people/{id}/pins", {"id": "pin-new", "pin": "482913"}),
    ("DELETE", "/api/people/{id}", None),
]


def _call(client: httpx.Client, method: str, path: str, body: object) -> httpx.Response:
    headers = {"X-Audit-Reason": "case 2026-117"}
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
def test_another_compounds_person_is_invisible_to_every_role(
    hub_http: HubHttp, people: dict[str, str], method: str, path: str, body: object
) -> None:
    other = people["c2-101"]
    for role in ("admin", "staff", "officer", "resident"):
        response = _call(hub_http.client(role, "c1"), method, path.format(id=other), body)
        assert response.status_code in {403, 404}, role
        assert "某人" not in response.text, role  # nothing of the person leaks
    staff_c2 = hub_http.client("staff", "c2")
    assert staff_c2.get(f"/api/people/{other}").json()["display_name"] == "某人"


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES[1:])
def test_officers_and_residents_cannot_change_the_registry(
    hub_http: HubHttp, people: dict[str, str], method: str, path: str, body: object
) -> None:
    own = people["c1-101"]
    for role in ("officer", "resident"):
        response = _call(hub_http.client(role), method, path.format(id=own), body)
        assert response.status_code == 403, role
    assert hub_http.client("staff").get(f"/api/people/{own}").json()["display_name"] == "某人"


def test_a_resident_sees_only_their_own_unit(hub_http: HubHttp, people: dict[str, str]) -> None:
    resident = hub_http.client("resident")
    assert [p["id"] for p in resident.get("/api/people").json()["items"]] == [people["c1-101"]]
    other_unit = resident.get("/api/people", params={"unit_id": "c1-102"}).json()
    assert [p["id"] for p in other_unit["items"]] == ["p-a"]  # their own unit's, still
    assert resident.get(f"/api/people/{people['c1-102']}").status_code == 404


def test_nobody_without_a_token_gets_anything(hub_http: HubHttp, people: dict[str, str]) -> None:
    anonymous = hub_http.anonymous()
    for path in ("/api/people", "/api/events", "/api/occupancy", "/api/edges", "/api/units"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.get("/healthz").status_code == 200


def test_officers_must_give_a_reason_and_it_is_audited(
    hub_http: HubHttp, people: dict[str, str]
) -> None:
    officer = hub_http.client("officer")
    assert officer.get("/api/people").status_code == 403
    response = officer.get("/api/people", headers={"X-Audit-Reason": "burglary case 2026-117"})
    assert response.status_code == 200
    with Session(hub_http.engine) as session:
        last = session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc())).first()
    assert last is not None
    reason = "burglary case 2026-117"
    assert (last.actor, last.action, last.reason) == ("c1-officer", "read", reason)
    for path in ("/api/incidents", "/api/work-orders"):  # they name people too
        assert officer.get(path).status_code == 403, path
        assert officer.get(path, headers={"X-Audit-Reason": reason}).status_code == 200, path
    assert hub_http.client("resident").get("/api/occupancy").status_code == 403
    with Session(hub_http.engine) as session:
        refused = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "refused"))
        seen = [(r.actor, r.target) for r in refused]
    assert seen == [
        ("c1-officer", "GET /api/people"),
        ("c1-officer", "GET /api/incidents"),
        ("c1-officer", "GET /api/work-orders"),
        ("c1-resident", "GET /api/occupancy"),
    ]


def test_every_registry_change_and_personal_read_is_audited(
    hub_http: HubHttp, people: dict[str, str]
) -> None:
    staff = hub_http.client("staff")
    staff.get(f"/api/people/{people['c1-101']}")
    with Session(hub_http.engine) as session:
        targets = [(r.action, r.target) for r in session.exec(select(AuditRecord))]
    assert ("create", "person:p-a") in targets
    assert ("create", "card:card-p-a") in targets
    assert ("read", "person:p-a") in targets


def test_the_audit_check_finds_an_edited_or_deleted_record(
    hub_http: HubHttp, people: dict[str, str]
) -> None:
    admin = hub_http.client("admin")
    check = admin.get("/api/audit/verify").json()
    assert check["ok"] is True
    assert list(check["sealed_by"]) == [hub_http.settings.secret_box().derived_keys("x")[0][0]]
    with Session(hub_http.engine) as session:
        records = session.exec(select(AuditRecord).order_by(col(AuditRecord.id))).all()
        third = records[2].id
        records[1].reason = "nothing to see here"
        session.add(records[1])
        session.commit()
    report = admin.get("/api/audit/verify").json()
    assert report["ok"] is False
    assert any("altered" in p for p in report["problems"])
    with Session(hub_http.engine) as session:
        session.delete(session.get(AuditRecord, third))
        session.commit()
    assert any("missing" in p for p in admin.get("/api/audit/verify").json()["problems"])


def test_repeated_wrong_passwords_lock_the_account(hub_http: HubHttp) -> None:
    anonymous = hub_http.anonymous()
    for _ in range(hub_http.settings.lockout_failures):
        wrong = {"username": "c1-staff", "password": "not the password"}
        assert anonymous.post("/api/auth/login", json=wrong).status_code == 401
    right = {"username": "c1-staff", "password": PASSWORD}
    response = anonymous.post("/api/auth/login", json=right)
    assert response.status_code == 401
    unknown = anonymous.post("/api/auth/login", json={"username": "nobody", "password": "x"})
    assert response.json() == unknown.json()  # a lock and a wrong name look the same


def test_an_expired_session_is_refused(hub_http: HubHttp) -> None:
    staff = hub_http.client("staff")
    assert staff.get("/api/units").status_code == 200
    with Session(hub_http.engine) as session:
        for token in session.exec(select(AuthToken)):
            token.expires_at = utcnow() - timedelta(seconds=1)
            session.add(token)
        session.commit()
    assert staff.get("/api/units").status_code == 401


def test_a_plate_in_no_valid_format_is_refused(hub_http: HubHttp, people: dict[str, str]) -> None:
    staff = hub_http.client("staff")
    bad = {"id": "plate-x", "number": "顺丰速运"}
    response = staff.post(f"/api/people/{people['c1-101']}/plates", json=bad)
    assert response.status_code == 422
    assert "not a Chinese licence plate" in response.json()["detail"]


def test_a_duplicate_card_is_a_conflict(hub_http: HubHttp, people: dict[str, str]) -> None:
    staff = hub_http.client("staff")
    first = {"id": "card-dup-1", "number": "55501"}
    again = {"id": "card-dup-2", "number": "55501"}
    assert staff.post(f"/api/people/{people['c1-101']}/cards", json=first).status_code == 201
    response = staff.post(f"/api/people/{people['c1-102']}/cards", json=again)
    assert response.status_code == 409


@pytest.mark.dialects
def test_guesses_sent_in_parallel_still_lock_the_account(hub_http: HubHttp) -> None:
    wrong = {"username": "c1-staff", "password": "not the password"}

    def guess(_: int) -> int:
        with httpx.Client(base_url=hub_http.base_url, timeout=30) as client:
            return client.post("/api/auth/login", json=wrong).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(guess, range(10))) == {401}
    right = {"username": "c1-staff", "password": PASSWORD}
    assert hub_http.anonymous().post("/api/auth/login", json=right).status_code == 401


def test_credentials_of_another_compound_cannot_be_removed(
    hub_http: HubHttp, people: dict[str, str]
) -> None:
    other_card = f"card-{people['c2-101']}"
    for role in ("admin", "staff"):
        response = hub_http.client(role, "c1").delete(f"/api/credentials/card/{other_card}")
        assert response.status_code == 404, role
    credentials = hub_http.client("staff", "c2").get(f"/api/people/{people['c2-101']}").json()
    assert [c["id"] for c in credentials["credentials"]] == [other_card]


def test_logins_and_refused_logins_are_audited(hub_http: HubHttp) -> None:
    anonymous = hub_http.anonymous()
    wrong = {"username": "c1-staff", "password": "not the password"}
    assert anonymous.post("/api/auth/login", json=wrong).status_code == 401
    nobody = {"username": "no-such-user", "password": "whatever it is"}
    assert anonymous.post("/api/auth/login", json=nobody).status_code == 401
    hub_http.client("staff")
    with Session(hub_http.engine) as session:
        rows = session.exec(
            select(AuditRecord).where(col(AuditRecord.action).startswith("login"))
        ).all()
    seen = [(r.action, r.actor, r.reason) for r in rows]
    assert ("login_refused", "c1-staff", "wrong password") in seen
    assert ("login_refused", "no-such-user", "no such account") in seen
    assert ("login", "c1-staff", "") in seen


def test_a_refused_pin_never_says_whose_it_is_and_trying_pins_stops(
    hub_http: HubHttp, people: dict[str, str]
) -> None:
    staff = hub_http.client("staff")
    given = {"id": "pin-a", "pin": "482913", "duress": True}
    assert staff.post("/api/people/p-a/pins", json=given).status_code == 201
    answers = [
        staff.post("/api/people/p-b/pins", json={"id": f"pin-b{n}", "pin": pin})
        for n, pin in enumerate(["482913", "123456", "777777"])
    ]
    assert [a.status_code for a in answers] == [409, 409, 409]
    assert len({a.json()["detail"] for a in answers}) == 1  # someone's, or too easy: one answer
    assert "in use" not in answers[0].json()["detail"]
    for n in range(2):
        staff.post("/api/people/p-b/pins", json={"id": f"pin-c{n}", "pin": "000000"})
    stopped = staff.post("/api/people/p-b/pins", json={"id": "pin-d", "pin": "539172"})
    assert stopped.status_code == 403 and "administrator" in stopped.json()["detail"]
    with Session(hub_http.engine) as session:
        refused = session.exec(
            select(AuditRecord).where(col(AuditRecord.action) == "pin_refused")
        ).all()
    assert [(r.actor, r.target) for r in refused] == [("c1-staff", "person:p-b")] * 5


def test_a_read_of_another_compounds_record_is_answered_404_and_audited(
    hub_http: HubHttp, people: dict[str, str]
) -> None:
    staff = hub_http.client("staff")
    assert staff.get(f"/api/people/{people['c2-101']}").status_code == 404
    assert staff.get("/api/people/p-no-such-person").status_code == 404
    with Session(hub_http.engine) as session:
        refused = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "refused"))
        seen = [(r.actor, r.target) for r in refused]
    assert seen == [
        ("c1-staff", f"GET /api/people/{people['c2-101']}"),
        ("c1-staff", "GET /api/people/p-no-such-person"),
    ]
