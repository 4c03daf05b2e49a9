"""Visitor passes, watchlists, gates and dated cards through the API, and what edges pull."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.conftest import HubHttp

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _pass(pass_id: str, unit: str = "c1-101", **extra: object) -> dict[str, object]:
    return {
        "id": pass_id,
        "unit_id": unit,
        "visitor_name": "访客",
        "valid_from": START.isoformat(),
        "valid_until": (START + timedelta(hours=4)).isoformat(),
        **extra,
    }


def _records(edge_http: httpx.Client, kind: str) -> dict[str, dict[str, object]]:
    changes = edge_http.get("/api/edge/registry", params={"since": 0}).json()["changes"]
    return {c["id"]: c["record"] for c in changes if c["record_kind"] == kind}


def test_a_resident_issues_passes_for_their_own_unit_only(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    resident = hub_http.client("resident")
    assert resident.post("/api/passes", json=_pass("pass-1", plate="鲁C·12345")).status_code == 201
    assert resident.post("/api/passes", json=_pass("pass-2", unit="c1-102")).status_code == 403
    assert [p["id"] for p in resident.get("/api/passes").json()["items"]] == ["pass-1"]
    records = _records(edge_http, "pass")
    assert records["pass-1"]["plate"] == "鲁C12345"
    assert "visitor_name" not in records["pass-1"]  # the name stays on the hub


def test_a_revoked_pass_leaves_the_edges(hub_http: HubHttp, edge_http: httpx.Client) -> None:
    staff = hub_http.client("staff")
    assert staff.post("/api/passes", json=_pass("pass-9", unit="c1-102")).status_code == 201
    version = edge_http.get("/api/edge/registry").json()["to_version"]
    assert hub_http.client("resident").delete("/api/passes/pass-9").status_code == 404
    assert staff.delete("/api/passes/pass-9").status_code == 204
    delta = edge_http.get("/api/edge/registry", params={"since": version}).json()
    assert [(c["id"], c["op"]) for c in delta["changes"]] == [("pass-9", "delete")]
    assert "pass-9" not in _records(edge_http, "pass")
    assert staff.get("/api/passes").json()["items"][0]["revoked"] is True


@pytest.mark.parametrize(
    "extra",
    [
        {"valid_until": START.isoformat()},
        {"valid_until": (START + timedelta(days=40)).isoformat()},
        {"max_entries": 0},
        {"plate": "顺丰速运"},
    ],
)
def test_bad_passes_are_refused(hub_http: HubHttp, extra: dict[str, object]) -> None:
    response = hub_http.client("staff").post("/api/passes", json=_pass("pass-x", **extra))
    assert response.status_code == 422


def test_officers_keep_the_watchlist_and_edges_get_no_reasons(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    officer = hub_http.client("officer")
    entry = {
        "id": "w1",
        "target": "plate",
        "value": "京A·8B3C1",
        "action": "alert",
        "reason": "stolen vehicle report 2026-311",
    }
    headers = {"X-Audit-Reason": "case 2026-311"}
    assert officer.post("/api/watchlist", json=entry, headers=headers).status_code == 201
    assert hub_http.client("staff").get("/api/watchlist").status_code == 403
    assert officer.get("/api/watchlist").status_code == 403  # no reason given
    [listed] = officer.get("/api/watchlist", headers=headers).json()["items"]
    assert listed["value"] == "京A8B3C1"
    record = _records(edge_http, "watchlist")["w1"]
    assert record == {
        "kind": "watchlist",
        "id": "w1",
        "target": "plate",
        "value": "京A8B3C1",
        "action": "alert",
    }
    assert officer.delete("/api/watchlist/w1", headers=headers).status_code == 204
    assert _records(edge_http, "watchlist") == {}


def test_dated_cards_reach_edges_with_their_window(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    staff = hub_http.client("staff")
    person = {"id": "p-t", "kind": "staff", "display_name": "保洁"}
    assert staff.post("/api/people", json=person).status_code == 201
    card = {
        "id": "card-t",
        "number": "8080",
        "valid_until": (START + timedelta(days=90)).isoformat(),
    }
    assert staff.post("/api/people/p-t/cards", json=card).status_code == 201
    record = _records(edge_http, "card")["card-t"]
    assert datetime.fromisoformat(str(record["valid_until"])) == START + timedelta(days=90)


def test_gates_belong_to_their_compound(hub_http: HubHttp) -> None:
    admin = hub_http.client("admin")
    gate = {"id": "north", "name": "北门", "kind": "vehicle"}
    assert admin.post("/api/gates", json=gate).status_code == 201
    assert hub_http.client("staff").post("/api/gates", json={**gate, "id": "x"}).status_code == 403
    assert [g["id"] for g in hub_http.client("staff").get("/api/gates").json()] == ["north"]
    assert hub_http.client("admin", "c2").get("/api/gates").json() == []
    foreign = {**gate, "id": "south", "building_id": "c2-b1"}
    assert admin.post("/api/gates", json=foreign).status_code == 422


def test_passes_and_watchlist_entries_of_another_compound_are_out_of_reach(
    hub_http: HubHttp,
) -> None:
    assert (
        hub_http.client("staff", "c2").post("/api/passes", json=_pass("p-c2", "c2-101")).status_code
        == 201
    )
    headers = {"X-Audit-Reason": "case 1"}
    entry = {"id": "w-c2", "target": "person", "value": "p-x", "action": "deny", "reason": "fraud"}
    assert (
        hub_http.client("officer", "c2")
        .post("/api/watchlist", json=entry, headers=headers)
        .status_code
        == 201
    )
    for role in ("admin", "staff", "resident"):
        assert hub_http.client(role, "c1").delete("/api/passes/p-c2").status_code == 404, role
    for role in ("admin", "officer"):
        response = hub_http.client(role, "c1").delete("/api/watchlist/w-c2", headers=headers)
        assert response.status_code == 404, role
    assert (
        hub_http.client("staff", "c1").post("/api/passes", json=_pass("p-x", "c2-101")).status_code
        == 422
    )
    assert hub_http.client("staff", "c2").get("/api/passes").json()["items"][0]["revoked"] is False


def test_an_entry_counts_once_on_its_own_pass_and_never_on_a_revoked_one(
    hub_http: HubHttp, edge_http: httpx.Client
) -> None:
    now = datetime.now(UTC)
    window = {
        "valid_from": (now - timedelta(minutes=5)).isoformat(),
        "valid_until": (now + timedelta(hours=2)).isoformat(),
    }
    staff = hub_http.client("staff")
    for pass_id in ("pass-a", "pass-b"):
        assert staff.post("/api/passes", json=_pass(pass_id) | window).status_code == 201
    entry = {"entry": "6f1c7a5e-2b1d-4a43-9a55-0d7d2f1e9b11"}

    def granted(pass_id: str) -> bool:
        answer = edge_http.post(f"/api/edge/passes/{pass_id}/entries", params=entry)
        return bool(answer.json()["granted"])

    assert granted("pass-a")
    assert granted("pass-a")  # the same entry asked again: counted once, still granted
    assert not granted("pass-b")  # an entry counted on another pass is none of this one
    assert staff.delete("/api/passes/pass-a").status_code == 204
    assert not granted("pass-a")  # revoked
    used = {p["id"]: p["entries_used"] for p in staff.get("/api/passes").json()["items"]}
    assert used == {"pass-a": 1, "pass-b": 0}


def test_a_pass_whose_id_is_taken_is_a_conflict(hub_http: HubHttp) -> None:
    """Found by bench.api_fuzz --seconds 300: the second pass of an id answered 500."""
    staff = hub_http.client("staff")
    assert staff.post("/api/passes", json=_pass("pass-twice")).status_code == 201
    again = staff.post("/api/passes", json=_pass("pass-twice"))
    assert again.status_code == 409 and "taken" in again.json()["detail"]
