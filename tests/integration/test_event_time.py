"""Events from the future, through the real ingest: a clock two hours ahead is counted at
the hub's time, a signed event dated 9999-12-31 is kept out of occupancy and analytics, each
raises an alarm naming the edge, and every page still renders (it answered 500 for good)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from hub import crud
from hub.tables import Alarm, Entry, as_utc, utcnow
from models.events import Direction, SubjectKind
from models.signing import public_key_pem
from models.topics import Topics
from tests import factories
from tests.integration.conftest import FakeEdgeLink, HubHttp
from tests.integration.test_web_ui import browser_login

pytestmark = pytest.mark.integration

PAGES = ["/ui/", "/ui/entries", "/ui/gates", "/ui/residents", "/ui/live", "/api/population"]


def _edge(hub_http: HubHttp, broker_url: str) -> FakeEdgeLink:
    edge = FakeEdgeLink(broker_url, Topics(hub_http.settings.topic_prefix), "c1", "edge-1")
    with Session(hub_http.engine) as session:
        key = public_key_pem(edge.key)
        crud.register_edge(session=session, edge_id="edge-1", compound_id="c1", public_key=key)
        session.commit()
    edge.start()
    return edge


def test_events_from_the_future_are_counted_where_they_can_be(
    hub_http: HubHttp, broker_url: str
) -> None:
    now = utcnow()
    dates = {
        "r-now": now,
        "r-ahead": now + timedelta(hours=2),
        "r-9999": datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    }
    edge = _edge(hub_http, broker_url)
    try:
        for seq, (who, at) in enumerate(dates.items(), start=1):
            event = factories.entry(
                factories.position(edge_id="edge-1", seq=seq),
                subject_id=who,
                kind=SubjectKind.VISITOR,
                direction=Direction.IN,
                at=at,
            )
            edge.send(event)
        assert len(edge.confirmed_ids(3)) == 3
    finally:
        edge.link.stop()
    with Session(hub_http.engine) as session:
        rows = {e.subject_id: e for e in session.exec(select(Entry)).all()}
        alarms = session.exec(select(Alarm).where(col(Alarm.source) == "hub")).all()
    assert rows["r-now"].reported_at is None and rows["r-now"].counted
    ahead, far = rows["r-ahead"], rows["r-9999"]
    assert ahead.counted and "clock_ahead" in ahead.flags.split()
    assert as_utc(ahead.reported_at or now) == dates["r-ahead"]
    assert abs(as_utc(ahead.occurred_at) - now) < timedelta(minutes=1)  # the hub's time
    assert not far.counted and "time_out_of_bounds" in far.flags.split()
    assert as_utc(far.reported_at or now) == dates["r-9999"]
    assert sorted((a.code, a.edge_id) for a in alarms) == [
        ("clock_ahead", "edge-1"),
        ("time_out_of_bounds", "edge-1"),
    ]

    staff, browser = hub_http.client("staff"), browser_login(hub_http, "staff")
    for page in PAGES:
        client = browser if page.startswith("/ui/") else staff
        assert client.get(page).status_code == 200, page
    inside = staff.get("/api/occupancy").json()["inside"]
    assert inside["visitor"] == 2  # now and two hours ahead; never 9999
    shown = {e["subject_id"]: e for e in staff.get("/api/events").json()["items"]}
    assert shown["r-9999"]["reported_at"].startswith("9999-12-31")
