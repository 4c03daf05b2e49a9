"""The register's lists, paged: `items`, `total`, `limit`, `offset`; and `GET /api/people`
reads a page in the same number of queries whether the compound has ten people or two
hundred. Real HTTP, a real database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from hub.tables import Card, Person, Pin, Plate, VisitorPass, WatchlistEntry
from tests.integration.conftest import HubHttp

pytestmark = pytest.mark.integration

REASON = {"X-Audit-Reason": "case 2026-117"}


def _seed(engine: Engine, first: int, last: int, compound: str = "c1") -> None:
    """People `first`..`last - 1` of unit 101, each with a card, a plate and a PIN."""
    ids = [f"{compound}-p{n:04d}" for n in range(first, last)]
    with Session(engine) as session:
        for n, person_id in enumerate(ids, first):
            name = f"住户{n}"
            unit = f"{compound}-101"
            session.add(
                Person(
                    id=person_id,
                    compound_id=compound,
                    kind="resident",
                    unit_id=unit,
                    display_name=name,
                )
            )
        session.flush()  # the people before what refers to them (no relationships to order by)
        for n, person_id in enumerate(ids, first):
            held = {"compound_id": compound, "person_id": person_id}
            session.add(Card(id=f"{person_id}-card", number=str(10_000 + n), **held))
            session.add(Plate(id=f"{person_id}-plate", number=f"粤B{n:05d}", **held))
            session.add(Pin(id=f"{person_id}-pin", digest=f"{n:064x}", **held))
        session.commit()


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` meanwhile (by the hub's request threads)."""
    seen: list[str] = []
    lock = threading.Lock()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        with lock:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _queries_to_list_everyone(hub_http: HubHttp, expected: int) -> int:
    staff = hub_http.client("staff")
    staff.get("/api/people", params={"limit": 1000}).raise_for_status()  # warm: nothing lazy
    with _statements(hub_http.engine) as seen:
        page = staff.get("/api/people", params={"limit": 1000}).json()
    assert (page["total"], len(page["items"])) == (expected, expected)
    assert all(len(person["credentials"]) == 3 for person in page["items"])
    return len(seen)


def test_listing_people_takes_as_many_queries_for_200_as_for_10(hub_http: HubHttp) -> None:
    _seed(hub_http.engine, 0, 10)
    few = _queries_to_list_everyone(hub_http, 10)
    _seed(hub_http.engine, 10, 200)
    many = _queries_to_list_everyone(hub_http, 200)
    print(f"GET /api/people: {few} statements for 10 people, {many} for 200")
    assert few == many
    assert many <= 16  # the login's token and user, the page, its total, 3 kinds, the audit


def test_the_register_is_paged_with_its_total(hub_http: HubHttp) -> None:
    _seed(hub_http.engine, 0, 5)
    _seed(hub_http.engine, 0, 2, compound="c2")
    staff = hub_http.client("staff")
    first = staff.get("/api/people", params={"limit": 2}).json()
    assert [p["id"] for p in first["items"]] == ["c1-p0000", "c1-p0001"]
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    last = staff.get("/api/people", params={"limit": 2, "offset": 4}).json()
    assert [p["id"] for p in last["items"]] == ["c1-p0004"]
    assert [c["kind"] for c in last["items"][0]["credentials"]] == ["card", "plate", "pin"]
    assert last["items"][0]["credentials"][2]["value"] is None  # never a PIN
    beyond = staff.get("/api/people", params={"offset": 10}).json()
    assert (beyond["items"], beyond["total"]) == ([], 5)
    default = staff.get("/api/people").json()
    assert (default["limit"], default["offset"], default["total"]) == (100, 0, 5)
    resident = hub_http.client("resident").get("/api/people", params={"limit": 1}).json()
    assert (len(resident["items"]), resident["total"]) == (1, 5)  # unit 101's people


def _listed(hub_http: HubHttp) -> None:
    """One of each paged list's items in c1, and one in c2 that c1 never counts."""
    start = datetime.now(UTC)
    with Session(hub_http.engine) as session:
        for compound in ("c1", "c2"):
            session.add(
                VisitorPass(
                    id=f"{compound}-pass",
                    compound_id=compound,
                    unit_id=f"{compound}-101",
                    visitor_name="访客",
                    valid_from=start,
                    valid_until=start + timedelta(hours=4),
                    created_by="staff",
                )
            )
            session.add(
                WatchlistEntry(
                    id=f"{compound}-watch",
                    compound_id=compound,
                    kind="plate",
                    value="京A8B3C1",
                    action="deny",
                    reason="stolen car",
                    created_by="officer",
                )
            )
        session.commit()


@pytest.mark.parametrize(
    ("path", "total"),
    [("/api/people", 3), ("/api/passes", 1), ("/api/watchlist", 1), ("/api/units", 2)],
)
def test_every_list_of_the_register_is_paged(hub_http: HubHttp, path: str, total: int) -> None:
    _seed(hub_http.engine, 0, 3)
    _listed(hub_http)
    admin = hub_http.client("admin")
    page = admin.get(path, params={"limit": 1}, headers=REASON).json()
    assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (1, total, 1, 0)
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        assert admin.get(path, params=bad, headers=REASON).status_code == 422, bad
