"""A compound with gates: hub, broker, edge, barrier controller and readers as processes.

Cards and QR passes open real relays (Modbus-TCP and HTTP); a QR pass works with the hub and
the broker stopped, and its events arrive once they return; the guard opens a gate from the
hub; a killed edge leaves the fail-secure door locked and the fail-safe barrier released; the
fire alarm opens the egress door with the edge frozen."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from firmware_mocks.anpr_camera import AnprCamera
from firmware_mocks.card_reader import CardReader, Swipe
from harness.broker import Mosquitto
from harness.compound import Compound
from harness.processes import wait_until
from hub import crud
from tests.factories import blue_plate_scene, entry, uncoloured_plate_scene

DOOR, BARRIER = 0, 1


@pytest.fixture
def gated(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, hub_sqlite: Path
) -> Iterator[Compound]:
    with Compound(
        tmp_path,
        broker.url,
        topic_prefix=topic_prefix,
        resend_after_s=2.0,
        with_gates=True,
        in_lanes=2,
    ) as compound:
        compound.start_hub(wait=False)  # it starts while the hub commands run
        compound.prepare()
        compound.start_barrier(watchdog_s=2.0)
        compound.start_display()
        compound.wait_hub()
        compound.start_edge()
        for gate, kind in (("east-gate", "pedestrian"), ("car-gate", "vehicle")):
            compound.request("POST", "/api/gates", json={"id": gate, "name": gate, "kind": kind})
        yield compound


def _pass_at_the_edge(
    compound: Compound, pass_id: str, *, entries: int = 1, valid: timedelta = timedelta(hours=2)
) -> str:
    """A visitor pass for unit b1-101 issued by the compound's admin, once its edge holds
    it: its QR token."""
    now = datetime.now(UTC)
    body = {
        "id": pass_id,
        "unit_id": "b1-101",
        "visitor_name": "访客",
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + valid).isoformat(),
        "max_entries": entries,
    }
    token = str(compound.request("POST", "/api/passes", json=body).json()["token"])
    wait_until(lambda: f'"{pass_id}"' in compound.edge_registry(), 30, "the pass at the edge")
    return token


def _reader(compound: Compound, lane: str = "in") -> CardReader:
    return CardReader("127.0.0.1", compound.reader_ports[lane])


def _relay_on(compound: Compound, channel: int) -> int:
    assert compound.barrier is not None
    return sum(1 for c in compound.barrier.world.relay_log() if c["channel"] == channel and c["on"])


def _is_open(compound: Compound, channel: int) -> bool:
    assert compound.barrier is not None
    return bool(compound.barrier.world.peek()["open"][channel])


def _alarms(compound: Compound) -> list[str]:
    engine = create_engine(compound.database_url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT code FROM alarm"))]
    finally:
        engine.dispose()


def test_a_card_opens_the_door_over_modbus(gated: Compound) -> None:
    before = _relay_on(gated, DOOR)
    reader = _reader(gated)
    try:
        assert reader.present(Swipe(1001)).result == "granted"
        assert reader.present(Swipe(4242)).result == "denied"
    finally:
        reader.close()
    assert _relay_on(gated, DOOR) == before + 1  # one relay command, for the one grant
    wait_until(lambda: not _is_open(gated, DOOR), 10, "the door closed again")


def test_the_edge_reports_its_clock_against_the_hubs(gated: Compound) -> None:
    def edge() -> dict[str, object]:
        return next(e for e in gated.get("/api/edges").json() if e["edge_id"] == gated.edge_id)

    wait_until(lambda: edge()["clock_trusted"] is True, 30, "a trusted clock in the status")
    offset = edge()["clock_offset_s"]
    # The same machine: near zero, up to half a round trip to the hub, which on a busy
    # machine has taken over 2 s.
    assert isinstance(offset, float) and abs(offset) < 5.0


def test_a_qr_pass_opens_offline_and_its_events_arrive_later(
    gated: Compound, broker: Mosquitto
) -> None:
    token = _pass_at_the_edge(gated, "pass-e2e")
    assert gated.hub is not None
    gated.hub.stop()
    broker.stop()
    reader = _reader(gated)
    try:
        assert reader.show_qr(token) == "granted"
        assert reader.show_qr(token) == "denied"  # its one entry is used, counted here
        assert reader.show_qr(token[:-4] + "AAAA") == "denied"  # forged
        assert reader.show_qr("not a pass") == "denied"
    finally:
        reader.close()
    broker.start()
    gated.start_hub()

    def qr_entries() -> list[dict[str, object]]:
        return [e for e in gated.all_entries() if e["method"] == "qr"]

    wait_until(lambda: len(qr_entries()) == 4, 60, "the offline QR events at the hub")
    by_outcome = sorted((e["outcome"], e["reason_code"], e["flags"]) for e in qr_entries())
    assert by_outcome == [
        ("denied", "pass_used_up", ""),
        ("denied", "qr_forged", ""),
        ("denied", "qr_invalid", ""),
        ("granted", "pass_valid", "offline_limit"),
    ]
    wait_until(lambda: "qr_forged" in _alarms(gated), 30, "the forged-QR alarm")
    passes = gated.get("/api/passes").json()["items"]
    assert next(p for p in passes if p["id"] == "pass-e2e")["entries_used"] == 1


def _at_once(compound: Compound, lanes: list[str], show: Callable[[CardReader], str]) -> list[str]:
    """What each lane's reader answered when `show` was done at all of them at the same moment."""
    readers = [_reader(compound, lane) for lane in lanes]
    start = threading.Barrier(len(readers))

    def at(reader: CardReader) -> str:
        start.wait(timeout=10)
        return show(reader)

    try:
        with ThreadPoolExecutor(len(readers)) as pool:
            return sorted(pool.map(at, readers))
    finally:
        for reader in readers:
            reader.close()


def test_two_lanes_shown_a_one_entry_pass_at_once_grant_it_once(gated: Compound) -> None:
    token = _pass_at_the_edge(gated, "pass-twice")
    assert _at_once(gated, ["in", "in-2"], lambda r: r.show_qr(token)) == ["denied", "granted"]
    wait_until(lambda: len(gated.all_entries()) == 2, 30, "both events at the hub")
    assert sorted(e["reason_code"] for e in gated.all_entries()) == ["pass_used_up", "pass_valid"]
    passes = gated.get("/api/passes").json()["items"]
    assert next(p for p in passes if p["id"] == "pass-twice")["entries_used"] == 1


def test_a_tenant_who_moved_out_loses_login_session_and_pass_at_the_gate(gated: Compound) -> None:
    """The finding: a former tenant logged in after moving out and issued a 100-entry,
    30-day pass whose QR code then opened the real gate."""
    person = {"id": "p-tenant", "kind": "resident", "unit_id": "b1-101", "display_name": "租户"}
    gated.request("POST", "/api/people", json=person)
    login = {"username": "tenant", "password": "a long tenant password"}
    account = login | {"role": "resident", "unit_id": "b1-101", "person_id": "p-tenant"}
    gated.request("POST", "/api/users", json=account)
    session = httpx.post(f"{gated.hub_url}/api/auth/login", json=login).json()["token"]
    tenant = {"Authorization": f"Bearer {session}"}
    now = datetime.now(UTC)
    body = {
        "id": "pass-tenant",
        "unit_id": "b1-101",
        "visitor_name": "朋友",
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
        "max_entries": 100,
    }
    issued = httpx.post(f"{gated.hub_url}/api/passes", json=body, headers=tenant)
    qr = issued.json()["token"]
    wait_until(lambda: '"pass-tenant"' in gated.edge_registry(), 30, "the pass at the edge")

    gated.request("DELETE", "/api/people/p-tenant")  # the move-out
    wait_until(lambda: '"pass-tenant"' not in gated.edge_registry(), 30, "the pass revoked")
    reader = _reader(gated)
    try:
        assert reader.show_qr(qr) == "denied"
    finally:
        reader.close()
    assert httpx.get(f"{gated.hub_url}/api/events", headers=tenant).status_code == 401
    assert httpx.post(f"{gated.hub_url}/api/auth/login", json=login).status_code == 401
    wait_until(lambda: len(gated.all_entries()) == 1, 30, "the refusal at the hub")
    assert gated.all_entries()[0]["reason_code"] == "pass_revoked"


def test_the_guard_opens_the_door_from_the_hub(gated: Compound) -> None:
    before = _relay_on(gated, DOOR)
    body = {"action": "open", "reason": "resident forgot her card, known to me"}
    gated.request("POST", "/api/gates/east-gate/commands", json=body)
    wait_until(lambda: _relay_on(gated, DOOR) > before, 15, "the door opened by the guard")
    wait_until(
        lambda: any(e["method"] == "remote" for e in gated.all_entries()), 30, "the remote event"
    )
    remote = next(e for e in gated.all_entries() if e["method"] == "remote")
    assert remote["outcome"] == "granted" and body["reason"] in str(remote["reason"])


def test_a_killed_edge_leaves_the_door_locked_and_the_barrier_released(gated: Compound) -> None:
    for gate in ("east-gate", "car-gate"):
        body = {"action": "emergency_open", "reason": "ambulance arriving, hold both open"}
        gated.request("POST", f"/api/gates/{gate}/commands", json=body)
    wait_until(lambda: _is_open(gated, DOOR) and _is_open(gated, BARRIER), 15, "both open")
    assert gated.edge is not None
    gated.edge.kill()
    wait_until(lambda: not _is_open(gated, DOOR), 10, "the fail-secure door locked")
    assert _is_open(gated, BARRIER)  # fail-safe: released while nothing controls it
    gated.start_edge()
    wait_until(lambda: not _is_open(gated, BARRIER), 10, "the barrier back under control")
    assert not _is_open(gated, DOOR)
    wait_until(lambda: _alarms(gated).count("emergency_open") == 2, 30, "the overrides logged")


def test_fire_opens_the_egress_door_with_the_edge_frozen(gated: Compound) -> None:
    assert gated.edge is not None and gated.edge.process is not None
    assert gated.barrier is not None
    gated.edge.process.send_signal(signal.SIGSTOP)  # the decision loop, and everything, stops
    try:
        gated.barrier.world.act(DOOR, fire=True)
        wait_until(lambda: _is_open(gated, DOOR), 5, "the egress door released")
        assert not _is_open(gated, BARRIER)  # not an egress gate
    finally:
        gated.edge.process.send_signal(signal.SIGCONT)
    wait_until(lambda: "fire_release" in _alarms(gated), 30, "the edge's fire alarm")
    gated.barrier.world.act(DOOR, fire=False)
    wait_until(lambda: not _is_open(gated, DOOR), 10, "the door locked after the fire")


@pytest.fixture
def passback(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, hub_sqlite: Path
) -> Iterator[Compound]:
    with Compound(
        tmp_path,
        broker.url,
        topic_prefix=topic_prefix,
        resend_after_s=2.0,
        with_gates=True,
        anti_passback="hard",
        in_lanes=2,
    ) as compound:
        compound.start_hub(wait=False)  # it starts while the hub commands run
        compound.prepare()
        compound.start_barrier()
        compound.wait_hub()
        compound.start_edge()
        yield compound


def test_hard_anti_passback_holds_across_gates_while_the_hub_answers(
    passback: Compound, broker: Mosquitto
) -> None:
    # 李伟 went in by another edge's gate a minute ago: that edge's event is at the hub.
    other_edge = entry(
        compound_id=passback.compound_id,
        gate_id="north-gate",
        subject_id="p-li-wei",
        at=datetime.now(UTC) - timedelta(minutes=1),
    )
    engine = create_engine(passback.database_url)
    try:
        with Session(engine) as session:
            crud.store_events(session=session, events=[other_edge])
            session.commit()
    finally:
        engine.dispose()
    reader, out = _reader(passback), _reader(passback, "out")
    try:
        assert reader.present(Swipe(1001)).result == "granted"
        assert reader.present(Swipe(1001)).result == "denied"  # in twice: passed back
        assert out.present(Swipe(1001)).result == "granted"
        assert reader.present(Swipe(1001)).result == "granted"
        assert reader.present(Swipe(1002)).result == "denied"  # in elsewhere, never out
        assert passback.hub is not None
        passback.hub.stop()
        assert reader.present(Swipe(1003)).result == "granted"  # this edge's view alone
    finally:
        reader.close()
        out.close()
    passback.start_hub()
    wait_until(lambda: len(passback.all_entries()) >= 7, 60, "the events at the hub")
    entries = [e for e in passback.all_entries() if e["gate_id"] == "east-gate"]
    denied = {(e["credential_ref"], e["reason_code"]) for e in entries if e["outcome"] == "denied"}
    assert denied == {("1001", "passback"), ("1002", "passback")}
    offline = next(e for e in entries if e["credential_ref"] == "1003")
    assert offline["flags"] == "offline_passback"


def test_one_card_at_two_lanes_at_once_lets_one_person_in(passback: Compound) -> None:
    swipe = lambda reader: reader.present(Swipe(1001)).result  # noqa: E731
    assert _at_once(passback, ["in", "in-2"], swipe) == ["denied", "granted"]
    wait_until(lambda: len(passback.all_entries()) == 2, 30, "both events at the hub")
    codes = sorted(e["reason_code"] for e in passback.all_entries())
    assert codes == ["card_valid", "passback"]


def test_an_anpr_camera_push_opens_the_barrier_for_a_resident(gated: Compound) -> None:
    device, password = gated.anpr_camera
    camera = AnprCamera(gated.anpr_url, device, password)
    before = _relay_on(gated, BARRIER)
    first = camera.push("京A·12345")
    assert (first.status, first.body["result"]) == (200, "granted"), first.body
    assert _relay_on(gated, BARRIER) == before + 1
    again = camera.push("京A12345")  # the same vehicle, pushed again as it comes closer
    assert again.body == first.body
    assert _relay_on(gated, BARRIER) == before + 1  # decided once
    unknown = camera.push("苏E11111")
    assert (unknown.status, unknown.body["reason_code"]) == (200, "plate_unknown")
    wait_until(
        lambda: any(
            w["credential_ref"] == "苏E11111" for w in gated.get("/api/gates/waiting").json()
        ),
        30,
        "the unknown plate in the guard booth's waiting list",
    )
    plates = [e for e in gated.all_entries() if e["method"] == "plate"]
    assert sorted(e["outcome"] for e in plates) == ["denied", "granted"]
    assert gated.display is not None  # the lane's screen showed each vehicle once
    wait_until(lambda: len(gated.display.shown()) == 2, 10, "the car-in lane's screen")
    shown = [(s["plate"], s["kind"], s["zh"]) for s in gated.display.shown()]
    assert shown == [
        ("京A12345", "granted", "请通行"),
        ("苏E11111", "denied", "禁止通行，请联系岗亭"),
    ]


def test_bad_anpr_pushes_get_clear_errors_and_the_lane_goes_on(gated: Compound) -> None:
    device, password = gated.anpr_camera
    camera = AnprCamera(gated.anpr_url, device, password)
    assert AnprCamera(gated.anpr_url, device, "wrong").push("京A12345").status == 401
    assert camera.push("2026-11-28 08:00").status == 422  # a timestamp, not a plate
    assert camera.push("x", event=b"{not json").status == 400
    assert camera.push("京A12345", snapshot=b"\xff\xd8 truncated").status == 400
    plain = httpx.post(f"{gated.anpr_url}/anpr/events", content=b"plate=1", auth=(device, password))
    assert plain.status_code == 415
    assert camera.push("京A12345").body["result"] == "granted"


def test_an_anpr_cameras_white_plate_keeps_its_snapshot(
    gated: Compound, fixtures_dir: Path
) -> None:
    """A picture with no plate colour in it (a real scene, its plate made white as a police
    or WJ plate is): the edge's plate detector finds the plate, and only it is kept."""
    device, password = gated.anpr_camera
    scene = uncoloured_plate_scene(fixtures_dir, black=False)
    camera = AnprCamera(gated.anpr_url, device, password)
    pushed = camera.push("WJ京12345", snapshot=cv2.imencode(".png", scene)[1].tobytes())
    assert pushed.body["reason_code"] == "plate_unknown"
    wait_until(lambda: len(gated.all_entries()) == 1, 30, "the push's event at the hub")
    [refused] = gated.all_entries()
    assert "snapshot" in str(refused["flags"]).split()
    fetched = gated.get(f"/api/events/{refused['event_id']}/snapshot")
    height, width = cv2.imdecode(np.frombuffer(fetched.content, np.uint8), 1).shape[:2]
    assert 170 <= width <= 300 and 50 <= height <= 140  # the plate (176 x 57), not the car


def _audited(compound: Compound, event_id: object) -> list[str]:
    engine = create_engine(compound.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT target FROM auditrecord WHERE target LIKE :t"),
                {"t": f"snapshot:{event_id}%"},
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def test_a_plate_decisions_snapshot_stays_sealed_on_the_edge_and_staff_fetch_it(
    gated: Compound,
) -> None:
    device, password = gated.anpr_camera
    scene = blue_plate_scene("E22222")
    camera = AnprCamera(gated.anpr_url, device, password)
    refused = camera.push("苏E22222", snapshot=cv2.imencode(".png", scene)[1].tobytes())
    assert refused.body["reason_code"] == "plate_unknown"
    # A picture that cannot be kept costs the decision nothing: the resident goes in.
    line = cv2.imencode(".png", np.zeros((1, 4000, 3), np.uint8))[1].tobytes()
    assert camera.push("京A12345", snapshot=line).body["result"] == "granted"
    reader = _reader(gated)
    try:
        assert reader.present(Swipe(4242)).result == "denied"  # no camera: no snapshot
    finally:
        reader.close()
    wait_until(lambda: len(gated.all_entries()) == 3, 30, "the three events at the hub")
    flagged = {
        e["credential_ref"]: "snapshot" in str(e["flags"]).split() for e in gated.all_entries()
    }
    assert flagged == {"苏E22222": True, "京A12345": False, "4242": False}
    pictured = next(e for e in gated.all_entries() if e["credential_ref"] == "苏E22222")
    [kept] = (gated.edge_dir / "evidence").glob("*.sealed")
    assert kept.stem == pictured["event_id"] and b"\xff\xd8\xff" not in kept.read_bytes()
    waiting = gated.get("/api/gates/waiting").json()
    assert any(w["event_id"] == pictured["event_id"] and w["snapshot"] for w in waiting)

    fetched = gated.get(f"/api/events/{pictured['event_id']}/snapshot")
    assert fetched.headers["content-type"] == "image/jpeg"
    assert fetched.headers["cache-control"] == "no-store"
    shown = cv2.imdecode(np.frombuffer(fetched.content, np.uint8), cv2.IMREAD_COLOR)
    plate = scene[200 - 23 : 265 + 23, 220 - 23 : 421 + 23]  # the plate and its margin only
    assert shown.shape == plate.shape
    assert float(np.abs(shown.astype(int) - plate.astype(int)).mean()) < 6  # JPEG noise only
    assert _audited(gated, pictured["event_id"]) == [
        f"snapshot:{pictured['event_id']} (unknown, plate:苏E22222)"
    ]

    headers = {"Authorization": f"Bearer {gated.token()}"}
    card = next(e for e in gated.all_entries() if e["method"] == "card")
    none = httpx.get(f"{gated.hub_url}/api/events/{card['event_id']}/snapshot", headers=headers)
    assert none.status_code == 404 and "no snapshot was kept" in none.json()["detail"]
    assert gated.edge is not None
    gated.edge.stop()
    away = httpx.get(
        f"{gated.hub_url}/api/events/{pictured['event_id']}/snapshot", headers=headers, timeout=30
    )
    assert away.status_code == 503 and "did not answer" in away.json()["detail"]
    assert len(_audited(gated, pictured["event_id"])) == 2
