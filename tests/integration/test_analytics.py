"""The hub's analytics over HTTP on a real database: occupancy over time (missed exits, late
events), anomalies worked by an officer, incidents and the zero-incident rate, work orders,
the register's reconciliation, and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub import crud
from hub.analytics import job
from hub.analytics.policy import AnalyticsPolicy
from hub.tables import AuditRecord, Entry, WorkOrder, utcnow
from models.events import Direction, EdgeEvent, Method, Outcome, SubjectKind
from tests import factories
from tests.integration.conftest import HubHttp

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


class Log:
    """Stores entries as an edge would have sent them, each at its own position."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seq = 0

    def add(self, minutes: float, who: str | None, **kw: object) -> EdgeEvent:
        self.seq += 1
        kw.setdefault("at", T0 + timedelta(minutes=minutes))
        event = factories.entry(factories.position(seq=self.seq), subject_id=who, **kw)  # type: ignore[arg-type]
        with Session(self.engine) as session:
            crud.store_events(session=session, events=[event])
            session.commit()
        return event


@pytest.fixture
def log(hub_http: HubHttp) -> Log:
    return Log(hub_http.engine)


def _a_morning_before(hours: int) -> datetime:
    """09:00 in the compound's zone, at least `hours` ago: a visitor let in then is no
    night entry, whatever the hour the test runs."""
    latest = utcnow() - timedelta(hours=hours)
    morning = latest.astimezone(AnalyticsPolicy().zone)
    morning = morning.replace(hour=9, minute=0, second=0, microsecond=0)
    if morning > latest:
        morning -= timedelta(days=1)
    return morning.astimezone(UTC)


def _series(client: httpx.Client, hours: int) -> list[dict]:
    params = {
        "since": T0.isoformat(),
        "until": (T0 + timedelta(hours=hours)).isoformat(),
        "step_minutes": 60,
    }
    response = client.get("/api/occupancy/series", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.dialects
def test_occupancy_over_time_presumes_missed_exits_and_takes_late_events(
    hub_http: HubHttp, log: Log
) -> None:
    staff = hub_http.client("staff")
    log.add(30, "r-1", kind=SubjectKind.RESIDENT)
    log.add(90, "r-1", kind=SubjectKind.RESIDENT, direction=Direction.OUT)
    log.add(30, "v-1", kind=SubjectKind.VISITOR)  # never read leaving
    log.add(150, None, method=Method.PLATE, reference="粤B12345", kind=SubjectKind.UNKNOWN)
    log.add(170, "r-2", kind=SubjectKind.RESIDENT, outcome=Outcome.DENIED)
    points = _series(staff, 26)
    people = [(p["people"]["resident"], p["people"]["visitor"]) for p in points]
    assert people[0] == (0, 0)
    assert people[1] == (1, 1) and people[2] == (0, 1)
    assert [p["vehicles"]["other"] for p in points[2:4]] == [0, 1]
    assert people[25] == (0, 0), "a visitor counts as gone 24 hours after entering"
    # An edge that was offline delivers r-1's earlier exit and a later entry: history changes.
    log.add(100, "r-1", kind=SubjectKind.RESIDENT)
    assert _series(staff, 3)[2]["people"]["resident"] == 1


def test_an_officer_works_an_anomaly_with_reasons_that_are_kept(
    hub_http: HubHttp, log: Log
) -> None:
    recent = utcnow() - timedelta(minutes=30)
    for i in range(3):
        log.add(0, None, at=recent + timedelta(minutes=i), outcome=Outcome.DENIED, reference="777")
    officer = hub_http.client("officer")
    assert officer.post("/api/anomalies/scan").json()["new"] == 1
    assert officer.get("/api/anomalies").status_code == 403, "officers must say why they read"
    officer.headers["X-Audit-Reason"] = "weekly review"
    [anomaly] = officer.get("/api/anomalies", params={"status": "open"}).json()
    assert anomaly["rule"] == "repeated_denials" and anomaly["subject"] == "card:777"
    url = f"/api/anomalies/{anomaly['id']}/actions"
    assert officer.post(url, json={"action": "acknowledge", "reason": ""}).status_code == 422
    body = {"action": "acknowledge", "reason": "spoke to the guard: a lost card"}
    detail = officer.post(url, json=body).json()
    assert detail["status"] == "acknowledged" and len(detail["entries"]) == 3
    assert officer.post(url, json=body).status_code == 409
    closed = officer.post(url, json={"action": "close", "reason": "card replaced"}).json()
    assert [(s["action"], s["actor"]) for s in closed["history"]] == [
        ("found", "hub"),
        ("acknowledge", "c1-officer"),
        ("close", "c1-officer"),
    ]
    with Session(hub_http.engine) as session:
        audited = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "close")).all()
    assert [(a.actor, a.reason) for a in audited] == [("c1-officer", "weekly review")]
    # The same card denied again: the closed case reopens with the new evidence.
    log.add(0, None, at=recent + timedelta(minutes=3), outcome=Outcome.DENIED, reference="777")
    assert officer.post("/api/anomalies/scan").json()["reopened"] == 1
    assert (
        hub_http.client("officer", "c2")
        .get(f"/api/anomalies/{anomaly['id']}", headers={"X-Audit-Reason": "x"})
        .status_code
        == 404
    )


def test_zero_incident_rate_per_compound_and_across_the_district(hub_http: HubHttp) -> None:
    officer = hub_http.client("officer")
    for day, hour in ((2, 10), (2, 23), (5, 3)):  # 03:00 in Beijing is the day before in UTC
        body = {
            "category": "theft",
            "occurred_at": f"2026-11-{day:02d}T{hour:02d}:00:00+08:00",
            "summary": "a bicycle taken from the shed",
        }
        assert officer.post("/api/incidents", json=body).status_code == 201
    bad = {"category": "rumour", "occurred_at": "2026-11-02T10:00:00+08:00", "summary": "xyz"}
    assert officer.post("/api/incidents", json=bad).status_code == 422
    period = {"first": "2026-11-01", "last": "2026-11-10"}
    rate = officer.get("/api/zero-incident", params=period).json()
    assert (rate["days"], rate["incident_days"], rate["incidents"]) == (10, 2, 3)
    assert rate["rate"] == 0.8 and rate["streak_days"] == 5
    district = officer.get("/api/district/zero-incident", params=period).json()
    assert (district["compounds"], district["without_incident"], district["share"]) == (2, 1, 0.5)
    fifth = officer.get("/api/zero-incident", params={"first": "2026-11-05", "last": "2026-11-05"})
    assert fifth.json()["incidents"] == 1
    # to today by default: the last week, long after the incidents
    week = (utcnow().astimezone(AnalyticsPolicy().zone) - timedelta(days=7)).date()
    later = officer.get("/api/district/zero-incident", params={"first": week.isoformat()})
    assert later.json()["share"] == 1.0
    assert hub_http.client("resident").get("/api/zero-incident").status_code == 403


def test_work_orders_have_an_owner_and_are_flagged_overdue(hub_http: HubHttp) -> None:
    resident, staff = hub_http.client("resident"), hub_http.client("staff")
    body = {"category": "dog", "description": "an unleashed dog by building 1"}
    order = resident.post("/api/work-orders", json=body).json()
    assert order["status"] == "open" and not order["overdue"]
    due = datetime.fromisoformat(order["due_at"]) - datetime.fromisoformat(order["reported_at"])
    assert due == timedelta(minutes=30)
    late = resident.post("/api/work-orders", json=body | {"category": "barrier"}).json()
    with Session(hub_http.engine) as session:
        row = session.get(WorkOrder, late["id"])
        assert row is not None
        row.due_at = utcnow() - timedelta(minutes=1)
        session.add(row)
        session.commit()
    flagged = {o["id"]: o["overdue"] for o in staff.get("/api/work-orders").json()}
    assert flagged == {order["id"]: False, late["id"]: True}
    url = f"/api/work-orders/{order['id']}/steps"
    assert (
        staff.post(url, json={"action": "assign", "owner": "guard-li"}).json()["owner"]
        == "guard-li"
    )
    answered = staff.post(url, json={"action": "respond", "note": "on the way"}).json()
    assert answered["status"] == "responded" and not answered["late"]
    assert resident.post(url, json={"action": "close"}).status_code == 403


def test_reconciliation_lists_absent_residents_and_unregistered_regulars(
    hub_http: HubHttp, log: Log
) -> None:
    staff = hub_http.client("staff")
    for person in ("p-home", "p-away"):
        body = {"id": person, "kind": "resident", "unit_id": "c1-101", "display_name": "住户"}
        assert staff.post("/api/people", json=body).status_code == 201
    now = utcnow()
    log.add(0, "p-home", at=now - timedelta(days=1))
    log.add(0, "p-away", at=now - timedelta(days=45))
    for day in range(4):
        log.add(
            0,
            None,
            at=now - timedelta(days=day, hours=1),
            method=Method.PLATE,
            reference="粤B55555",
            kind=SubjectKind.UNKNOWN,
            outcome=Outcome.DENIED,
        )
    log.add(
        0,
        None,
        at=now - timedelta(hours=2),
        method=Method.PLATE,
        reference="粤B11111",
        kind=SubjectKind.UNKNOWN,
        outcome=Outcome.DENIED,
    )
    body = staff.get("/api/population").json()
    assert [a["person_id"] for a in body["absent"]] == ["p-away"]
    assert [(r["identity"], r["days_seen"]) for r in body["unregistered"]] == [("粤B55555", 4)]


@pytest.mark.dialects
def test_retention_purges_what_is_past_its_time_and_says_so(hub_http: HubHttp, log: Log) -> None:
    now = utcnow()
    log.add(0, "p-1", at=now - timedelta(days=200))
    kept = log.add(0, "p-1", at=now - timedelta(days=2))
    log.add(
        0,
        "unknown-ab12",
        at=now - timedelta(days=8),
        method=Method.FACE,
        kind=SubjectKind.UNKNOWN,
        outcome=Outcome.DENIED,
    )
    fresh = log.add(
        0,
        "unknown-cd34",
        at=now - timedelta(days=1),
        method=Method.FACE,
        kind=SubjectKind.UNKNOWN,
        outcome=Outcome.DENIED,
    )
    report = job.run_once(hub_http.engine, AnalyticsPolicy(), now)
    assert (report.entries, report.pseudonyms) == (1, 1)
    with Session(hub_http.engine) as session:
        left = {str(e.event_id): e.subject_id for e in session.exec(select(Entry)).all()}
        purge = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "purge")).one()
    assert left[str(kept.event_id)] == "p-1" and left[str(fresh.event_id)] == "unknown-cd34"
    assert sorted(left.values(), key=str) == [None, "p-1", "unknown-cd34"]
    assert "entries 1" in purge.target
    assert job.run_once(hub_http.engine, AnalyticsPolicy(), now).entries == 0


def test_an_overstay_disproved_by_a_late_exit_is_withdrawn(hub_http: HubHttp, log: Log) -> None:
    staff = hub_http.client("staff")
    entered = _a_morning_before(hours=20)
    log.add(0, "pass-7", kind=SubjectKind.VISITOR, method=Method.QR, at=entered)
    scan_at = (entered + timedelta(hours=13)).isoformat()
    assert staff.post("/api/anomalies/scan", params={"at": scan_at}).json()["new"] == 1
    # The edge that read the exit five hours after the entry was offline; it delivers now.
    log.add(
        0,
        "pass-7",
        kind=SubjectKind.VISITOR,
        method=Method.QR,
        direction=Direction.OUT,
        at=entered + timedelta(hours=5),
    )
    assert staff.post("/api/anomalies/scan", params={"at": scan_at}).json()["withdrawn"] == 1
    [case] = staff.get("/api/anomalies", params={"rule": "overstay"}).json()
    steps = staff.get(f"/api/anomalies/{case['id']}").json()["history"]
    assert case["status"] == "closed"
    assert steps[-1]["action"] == "withdrawn" and "5.0 h" in steps[-1]["reason"]
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert staff.post("/api/anomalies/scan", params={"at": future}).status_code == 422


def test_an_overstay_stays_when_the_exit_came_after_the_limit(hub_http: HubHttp, log: Log) -> None:
    staff = hub_http.client("staff")
    entered = _a_morning_before(hours=20)
    log.add(0, "pass-8", kind=SubjectKind.VISITOR, method=Method.QR, at=entered)
    scan_at = (entered + timedelta(hours=13)).isoformat()
    staff.post("/api/anomalies/scan", params={"at": scan_at})
    log.add(
        0,
        "pass-8",
        kind=SubjectKind.VISITOR,
        method=Method.QR,
        direction=Direction.OUT,
        at=entered + timedelta(hours=14),
    )
    assert staff.post("/api/anomalies/scan", params={"at": scan_at}).json()["withdrawn"] == 0
    [case] = staff.get("/api/anomalies", params={"rule": "overstay"}).json()
    assert case["status"] == "open"


def test_a_passage_at_the_start_of_a_series_counts_there_and_a_pass_has_a_building(
    hub_http: HubHttp, log: Log
) -> None:
    staff = hub_http.client("staff")
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(hours=1)
    pass_body = {
        "id": "pass-b1",
        "unit_id": "c1-101",
        "visitor_name": "访客",
        "valid_from": (start - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(hours=1)).isoformat(),
    }
    assert staff.post("/api/passes", json=pass_body).status_code == 201
    log.add(0, "pass-b1", kind=SubjectKind.VISITOR, method=Method.QR, at=start)
    params = {"since": start.isoformat(), "until": now.isoformat(), "step_minutes": 60}
    points = staff.get("/api/occupancy/series", params=params).json()
    assert [p["people"]["visitor"] for p in points] == [1, 1]
    buildings = staff.get("/api/occupancy").json()["buildings"]
    assert buildings == [{"building_id": "c1-b1", "name": "1", "people": 1}]


def test_a_late_denial_before_a_run_adds_to_its_case(hub_http: HubHttp, log: Log) -> None:
    staff = hub_http.client("staff")
    start = utcnow() - timedelta(hours=1)
    for minute in (10, 15, 20):
        log.add(
            0, None, at=start + timedelta(minutes=minute), outcome=Outcome.DENIED, reference="777"
        )
    assert staff.post("/api/anomalies/scan").json()["new"] == 1
    log.add(0, None, at=start + timedelta(minutes=6), outcome=Outcome.DENIED, reference="777")
    assert staff.post("/api/anomalies/scan").json()["new"] == 0
    [case] = staff.get("/api/anomalies").json()
    assert len(staff.get(f"/api/anomalies/{case['id']}").json()["evidence"]) == 4


def test_a_resident_sees_their_own_orders_however_many_others_there_are(
    hub_http: HubHttp,
) -> None:
    resident, staff = hub_http.client("resident"), hub_http.client("staff")
    body = {"category": "lost_card", "description": "my card is gone"}
    mine = resident.post("/api/work-orders", json=body).json()
    for _ in range(3):
        staff.post("/api/work-orders", json=body | {"category": "barrier"})
    seen = resident.get("/api/work-orders", params={"limit": 2}).json()
    assert [o["id"] for o in seen] == [mine["id"]]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (
            "/api/occupancy/series",
            {"since": "0001-01-01T00:00:00Z", "until": "0001-01-05T00:00:00Z"},
        ),
        ("/api/zero-incident", {"first": "0001-01-01", "last": "0001-01-02"}),
        ("/api/zero-incident", {"first": "9999-12-25", "last": "9999-12-31"}),
        ("/api/events", {"since": "9999-12-31T00:00:00Z"}),
    ],
)
def test_far_off_dates_are_clear_client_errors(
    hub_http: HubHttp, path: str, params: dict[str, str]
) -> None:
    response = hub_http.client("staff").get(path, params=params)
    assert response.status_code == 422, response.text
    far = hub_http.client("staff").post(
        "/api/anomalies/scan", params={"at": "0001-01-02T00:00:00Z"}
    )
    assert far.status_code == 422
