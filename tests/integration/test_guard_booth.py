"""The hub's side of the access policy over real HTTP and MQTT: signed QR passes, entry
counts across gates, the guard booth (commands, walk-ins, who is waiting), the officers'
topic, and passes used beyond their limit while edges were cut off."""

from __future__ import annotations

import queue
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from anju.mqtt import BrokerAddress, MqttLink
from harness.processes import wait_until
from hub import crud, registry
from hub.core.security import SecretBox
from hub.services import HubServices
from hub.tables import Alarm, AuditRecord, Building, Unit, VehicleStay, VisitorPass
from models.events import (
    AlarmEvent,
    Credential,
    Decision,
    Direction,
    EntryEvent,
    Method,
    OfficerAlert,
    Outcome,
    Severity,
    Subject,
    SubjectKind,
)
from models.signing import load_public_key
from models.tokens import GateCommand, PassToken, verify_token
from models.topics import Topics
from tests.factories import position
from tests.integration.conftest import FakeEdgeLink, HubHttp

pytestmark = pytest.mark.integration


def _pass(pass_id: str, max_entries: int = 2, **extra: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": pass_id,
        "unit_id": "c1-101",
        "visitor_name": "访客",
        "valid_from": (now - timedelta(minutes=5)).isoformat(),
        "valid_until": (now + timedelta(hours=4)).isoformat(),
        "max_entries": max_entries,
        **extra,
    }


def test_a_pass_comes_with_a_qr_token_the_edge_verifies_offline(
    hub_http: HubHttp, edge_bundle: Path
) -> None:
    resident = hub_http.client("resident")
    created = resident.post("/api/passes", json=_pass("pass-qr", plate="沪B67890"))
    assert created.status_code == 201, created.text
    key = load_public_key((edge_bundle / "issuer-key.pub").read_text())
    claims = verify_token(created.json()["token"], PassToken, key)
    assert (claims.pass_id, claims.compound_id, claims.max_entries) == ("pass-qr", "c1", 2)
    assert claims.plate == "沪B67890"
    again = resident.get("/api/passes/pass-qr/qr")
    assert verify_token(again.json()["token"], PassToken, key).pass_id == "pass-qr"
    assert resident.delete("/api/passes/pass-qr").status_code == 204
    assert resident.get("/api/passes/pass-qr/qr").status_code == 404


def _count(edge_http: httpx.Client, pass_id: str, entry: uuid.UUID | None = None) -> dict:
    params = {"entry": str(entry or uuid.uuid4())}
    response = edge_http.post(f"/api/edge/passes/{pass_id}/entries", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_entries_are_counted_once_across_gates(hub_http: HubHttp, edge_http: httpx.Client) -> None:
    hub_http.client("staff").post("/api/passes", json=_pass("pass-2", max_entries=2))
    first = uuid.uuid4()
    assert _count(edge_http, "pass-2", first) == {"granted": True, "entries": 1, "max_entries": 2}
    again = _count(edge_http, "pass-2", first)  # the edge asked again: the same entry
    assert again == {"granted": True, "entries": 1, "max_entries": 2}
    answers = [_count(edge_http, "pass-2") for _ in range(2)]
    assert [a["granted"] for a in answers] == [True, False]
    assert answers[-1]["entries"] == 2
    assert _count(edge_http, "nope")["granted"] is False
    hub_http.client("staff").post("/api/passes", json=_pass("pass-3", max_entries=5))
    hub_http.client("staff").delete("/api/passes/pass-3")
    assert _count(edge_http, "pass-3")["granted"] is False


def test_the_hub_tells_edges_the_time(edge_http: httpx.Client) -> None:
    hub_now = datetime.fromisoformat(edge_http.get("/api/edge/clock").json()["now"])
    assert abs((hub_now - datetime.now(UTC)).total_seconds()) < 5
    assert httpx.get(f"{edge_http.base_url}/api/edge/clock").status_code == 401


def _gate(hub_http: HubHttp, gate_id: str = "east") -> None:
    body = {"id": gate_id, "name": "东门", "kind": "pedestrian"}
    assert hub_http.client("admin").post("/api/gates", json=body).status_code == 201


def test_a_guard_command_is_signed_sent_and_audited(
    hub_http: HubHttp, edge_bundle: Path, broker_url: str, topic_prefix: str
) -> None:
    _gate(hub_http)
    received: queue.Queue[bytes] = queue.Queue()
    listener = MqttLink(BrokerAddress.from_url(broker_url), client_id=f"t-{uuid.uuid4().hex[:6]}")
    listener.subscribe(Topics(topic_prefix).command("c1", "edge-1"), lambda t, p: received.put(p))
    listener.start()
    assert listener.wait_connected(10)
    try:
        guard = hub_http.client("staff")
        no_reason = guard.post("/api/gates/east/commands", json={"action": "open", "reason": ""})
        assert no_reason.status_code == 422
        officer = hub_http.client("officer")
        body = {"action": "open", "reason": "courier for 101, called the resident"}
        assert officer.post("/api/gates/east/commands", json=body).status_code == 403
        assert guard.post("/api/gates/west/commands", json=body).status_code == 404
        sent = guard.post("/api/gates/east/commands", json=body)
        assert sent.status_code == 202, sent.text
        assert sent.json()["edges"] == ["edge-1"]
        key = load_public_key((edge_bundle / "issuer-key.pub").read_text())
        command = verify_token(received.get(timeout=10).decode(), GateCommand, key)
    finally:
        listener.stop()
    assert (command.gate_id, command.action, command.issued_by) == ("east", "open", "c1-staff")
    assert str(command.command_id) == sent.json()["command_id"]
    with Session(hub_http.engine) as session:
        audits = session.exec(select(AuditRecord).where(AuditRecord.target == "gate:east")).all()
    assert ("open", body["reason"]) in [(a.action, a.reason) for a in audits]


def test_a_walk_in_gets_a_one_entry_pass_now(hub_http: HubHttp, edge_bundle: Path) -> None:
    guard = hub_http.client("staff")
    body = {"gate_id": "east", "unit_id": "c1-102", "visitor_name": "顺丰快递", "kind": "courier"}
    made = guard.post("/api/walk-ins", json={**body, "minutes": 30})
    assert made.status_code == 201, made.text
    key = load_public_key((edge_bundle / "issuer-key.pub").read_text())
    claims = verify_token(made.json()["token"], PassToken, key)
    assert claims.max_entries == 1
    assert claims.window_contains(datetime.now(UTC))
    assert claims.valid_until - datetime.now(UTC) <= timedelta(minutes=30)
    assert guard.post("/api/walk-ins", json={**body, "unit_id": "c2-101"}).status_code == 422


def _entry(
    outcome: Outcome,
    *,
    gate: str = "east",
    method: Method = Method.CARD,
    ref: str | None = "9999",
    subject_id: str | None = None,
    seconds_ago: float = 30,
    flags: tuple[str, ...] = (),
    kind: SubjectKind = SubjectKind.UNKNOWN,
    seq: int = 1,
    edge_id: str = "edge-1",
    epoch: uuid.UUID | None = None,
    reason_code: str = "card_unknown",
    direction: Direction = Direction.IN,
) -> EntryEvent:
    return EntryEvent(
        event_id=uuid.uuid4(),
        position=position(edge_id=edge_id, epoch=epoch, seq=seq),
        compound_id="c1",
        gate_id=gate,
        lane="in",
        direction=direction,
        occurred_at=datetime.now(UTC) - timedelta(seconds=seconds_ago),
        subject=Subject(kind=kind, id=subject_id),
        credential=Credential(method=method, reference=ref),
        decision=Decision(
            outcome=outcome,
            reason_code=reason_code if outcome is Outcome.DENIED else "ok",
            reason="-",
            flags=flags,
        ),
    )


def test_who_is_waiting_at_which_gate(hub_http: HubHttp) -> None:
    epoch = uuid.uuid4()
    events = [
        _entry(Outcome.DENIED, ref="9999", seconds_ago=90, seq=1, epoch=epoch),
        _entry(Outcome.DENIED, ref="9999", seconds_ago=60, seq=2, epoch=epoch),
        _entry(Outcome.DENIED, ref="8888", seconds_ago=50, seq=3, epoch=epoch),
        _entry(Outcome.GRANTED, ref="8888", seconds_ago=40, seq=4, epoch=epoch),
        _entry(
            Outcome.DENIED, gate="north", ref="苏E11111", method=Method.PLATE, seq=5, epoch=epoch
        ),
        _entry(Outcome.DENIED, ref="7777", seconds_ago=600, seq=6, epoch=epoch),  # long ago
    ]
    _store(hub_http, *events)
    waiting = hub_http.client("staff").get("/api/gates/waiting", params={"minutes": 5}).json()
    assert {(w["gate_id"], w["credential_ref"], w["attempts"]) for w in waiting} == {
        ("east", "9999", 2),
        ("north", "苏E11111", 1),
    }
    officer = hub_http.client("officer")
    assert officer.get("/api/gates/waiting").status_code == 403


def test_someone_refused_unnamed_waits_until_someone_gets_in_there_that_way(
    hub_http: HubHttp,
) -> None:
    """At night in the rain the edge could not check a face at the east gate, way in: nobody
    is named, the lane waits. Someone leaving there does not end it; the card the screen
    told them to use, let in that way, does."""
    epoch = uuid.uuid4()
    unusable = {"method": Method.FACE, "ref": None, "reason_code": "face_unusable"}
    _store(hub_http, _entry(Outcome.DENIED, seconds_ago=40, seq=1, epoch=epoch, **unusable))
    staff = hub_http.client("staff")
    [waiting] = staff.get("/api/gates/waiting").json()
    assert (waiting["gate_id"], waiting["method"], waiting["subject_id"]) == ("east", "face", None)
    assert waiting["last_reason"] == "face_unusable"
    card = {"ref": "1234", "subject_id": "p-2", "epoch": epoch}
    leaving = _entry(Outcome.GRANTED, seconds_ago=30, seq=2, direction=Direction.OUT, **card)
    elsewhere = _entry(Outcome.GRANTED, seconds_ago=25, seq=3, gate="north", **card)
    _store(hub_http, leaving, elsewhere)
    assert len(staff.get("/api/gates/waiting").json()) == 1
    _store(hub_http, _entry(Outcome.GRANTED, seconds_ago=20, seq=4, **card))
    assert staff.get("/api/gates/waiting").json() == []


def test_a_face_sent_to_the_second_factor_waits_until_that_person_gets_in(
    hub_http: HubHttp,
) -> None:
    epoch = uuid.uuid4()
    face = {"method": Method.FACE, "ref": "p-2", "subject_id": "p-2", "epoch": epoch}
    asked = _entry(Outcome.DENIED, seconds_ago=40, seq=1, reason_code="face_second_factor", **face)
    _store(hub_http, asked)
    staff = hub_http.client("staff")
    [waiting] = staff.get("/api/gates/waiting").json()
    assert (waiting["subject_id"], waiting["last_reason"]) == ("p-2", "face_second_factor")
    someone_else = {"ref": "1111", "subject_id": "p-3", "epoch": epoch}
    _store(hub_http, _entry(Outcome.GRANTED, seconds_ago=30, seq=2, **someone_else))
    assert len(staff.get("/api/gates/waiting").json()) == 1
    card = {"ref": "1234", "subject_id": "p-2", "epoch": epoch, "flags": ("face_confirmed",)}
    _store(hub_http, _entry(Outcome.GRANTED, seconds_ago=20, seq=3, **card))
    assert staff.get("/api/gates/waiting").json() == []


def _store(hub_http: HubHttp, *events: EntryEvent) -> None:
    with Session(hub_http.engine) as session:
        crud.store_events(session=session, events=list(events))
        session.commit()


def _opened_at_north(
    subject_id: str | None, kind: SubjectKind, *, seq: int, epoch: uuid.UUID, out: bool = False
) -> EntryEvent:
    """The entry event of a guard's command at the north gate, for `subject_id`."""
    opened = _entry(
        Outcome.GRANTED,
        gate="north",
        method=Method.REMOTE,
        ref=None,
        subject_id=subject_id,
        kind=kind,
        seq=seq,
        epoch=epoch,
        seconds_ago=10,
    )
    return opened.model_copy(update={"direction": Direction.OUT}) if out else opened


def _register(
    client: httpx.Client, person: str, kind: str, *numbers: str, unit: str = "c1-101"
) -> None:
    body = {"id": person, "kind": kind, "unit_id": unit, "display_name": person}
    assert client.post("/api/people", json=body).status_code == 201
    for i, number in enumerate(numbers):
        plate = {"id": f"pl-{person}-{i}", "number": number}
        assert client.post(f"/api/people/{person}/plates", json=plate).status_code == 201


def _refused_plate(number: str, seq: int, epoch: uuid.UUID, reason: str) -> EntryEvent:
    return _entry(
        Outcome.DENIED,
        gate="north",
        ref=number,
        method=Method.PLATE,
        seq=seq,
        epoch=epoch,
        reason_code=reason,
    )


def test_a_refused_plate_is_shown_with_the_registered_plates_it_may_be(
    hub_http: HubHttp,
) -> None:
    staff, officer = hub_http.client("staff"), hub_http.client("officer")
    _register(staff, "p-gui", "resident", "粤ATK071")
    _register(staff, "p-gao", "staff", "皖ATK074")
    _register(staff, "p-new", "resident", "苏E12345", "苏E12347", "苏E12348", "苏E12349")
    _register(staff, "p-two-off", "resident", "粤ATK079")
    _register(hub_http.client("staff", "c2"), "p-c2", "resident", "皖ATK070", unit="c2-101")
    _register(staff, "p-near-watched", "resident", "沪B12345")
    watched = {"id": "w1", "target": "plate", "value": "沪B12346", "action": "deny"}
    officer.headers["X-Audit-Reason"] = "stolen car report"
    assert officer.post("/api/watchlist", json=watched | {"reason": "stolen"}).status_code == 201
    epoch = uuid.uuid4()
    events = [
        # the reader's 皖 for a 粤 it could not see well; 皖ATK074 is a digit away
        _refused_plate("皖ATK071", 1, epoch, "plate_unknown"),
        # on the hub's register, not yet on the gate's; three more a digit away
        _refused_plate("苏E12345", 2, epoch, "ask_guard"),
        _refused_plate("沪B12347", 3, epoch, "plate_unknown"),  # a watchlisted plate is near
        _entry(Outcome.DENIED, ref="9999", seq=4, epoch=epoch),
    ]
    _store(hub_http, *events)
    waiting = {w["credential_ref"]: w for w in staff.get("/api/gates/waiting").json()}

    def shown(number: str) -> list[tuple[str, str, bool]]:
        return [(x["plate"], x["person_id"], x["exact"]) for x in waiting[number]["looks_like"]]

    assert shown("皖ATK071") == [("粤ATK071", "p-gui", False), ("皖ATK074", "p-gao", False)]
    assert shown("苏E12345") == [
        ("苏E12345", "p-new", True),
        ("苏E12347", "p-new", False),
        ("苏E12348", "p-new", False),
    ]
    assert shown("沪B12347") == [] and shown("9999") == []
    with Session(hub_http.engine) as session:
        read = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "read")).all()
    assert any("p-gui" in r.target and "p-new" in r.target for r in read)
    # The guard opens for p-gui by command: the plate that may be theirs waits no more.
    opened = _opened_at_north("p-gui", SubjectKind.RESIDENT, seq=5, epoch=epoch)
    _store(hub_http, opened)
    left = {w["credential_ref"] for w in staff.get("/api/gates/waiting").json()}
    assert left == {"苏E12345", "沪B12347", "9999"}


def test_a_refused_plate_is_shown_with_the_open_visitor_passes_it_may_be(
    hub_http: HubHttp,
) -> None:
    staff = hub_http.client("staff")
    now = datetime.now(UTC)
    _register(staff, "p-zhe", "resident", "浙A88887")
    passes = {  # id: (plate, opens in, closes in)
        "pass-open": ("浙A88881", -1, 3),
        "pass-early": ("浙A88882", 0.5, 3),  # the visitor is half an hour early
        "pass-later": ("浙A88883", 3, 6),
        "pass-over": ("浙A88884", -5, -1),
        "pass-revoked": ("浙A88885", -1, 3),
        "pass-used": ("浙A88886", -1, 3),
        "pass-resident": ("浙A88887", -1, 3),  # a resident's plate: shown once, as theirs
        "pass-now": ("浙A88882", -0.5, 3),  # the same plate, open now: shown before the early
    }
    for pass_id, (plate, opens, closes) in passes.items():
        body = _pass(pass_id, max_entries=1, plate=plate) | {
            "valid_from": (now + timedelta(hours=opens)).isoformat(),
            "valid_until": (now + timedelta(hours=closes)).isoformat(),
        }
        assert staff.post("/api/passes", json=body).status_code == 201, body
    assert staff.delete("/api/passes/pass-revoked").status_code == 204
    with Session(hub_http.engine) as session:
        used = session.get(VisitorPass, "pass-used")
        assert used is not None
        used.entries_used = 1
        session.add(used)
        session.commit()
    epoch = uuid.uuid4()
    refused = [f"浙A8878{n}" for n in range(1, 8)]  # each plate, one 8 read as 7
    events = [_refused_plate(p, i + 1, epoch, "plate_unknown") for i, p in enumerate(refused)]
    _store(hub_http, *events)
    waiting = {w["credential_ref"]: w for w in staff.get("/api/gates/waiting").json()}
    shown = {
        ref: [(x["pass_id"], x["person_id"], x["kind"], x["unit_id"]) for x in w["looks_like"]]
        for ref, w in waiting.items()
    }
    assert shown == {
        "浙A88781": [("pass-open", None, "visitor", "c1-101")],
        "浙A88782": [("pass-now", None, "visitor", "c1-101")],
        "浙A88783": [],
        "浙A88784": [],
        "浙A88785": [],
        "浙A88786": [],
        "浙A88787": [(None, "p-zhe", "resident", "c1-101")],
    }
    pass_open = waiting["浙A88781"]["looks_like"][0]
    opens = datetime.fromisoformat(pass_open["valid_from"])
    assert timedelta(minutes=59) < now - opens < timedelta(minutes=61)  # shown to the guard
    assert waiting["浙A88781"]["looks_like"][0]["display_name"] == "访客"
    # The guard opens the pass's lane the other way, for no one: this plate still waits.
    other_way = _opened_at_north(None, SubjectKind.UNKNOWN, seq=8, epoch=epoch, out=True)
    # Then for the pass: the edge logs its visitor as the pass.
    opened = _opened_at_north("pass-open", SubjectKind.VISITOR, seq=9, epoch=epoch)
    _store(hub_http, other_way)
    assert len(staff.get("/api/gates/waiting").json()) == len(refused)
    _store(hub_http, opened)
    left = {w["credential_ref"] for w in staff.get("/api/gates/waiting").json()}
    assert left == set(refused) - {"浙A88781"}


@pytest.fixture
def compound_c1(hub: HubServices) -> None:
    with Session(hub.engine) as session:
        registry.create_compound(
            session=session,
            compound_id="c1",
            name="c1",
            box=SecretBox.from_config(SecretBox.generate_key()),
        )
        session.flush()
        session.add(Building(id="b1", compound_id="c1", name="1"))
        session.flush()
        session.add(Unit(id="u1", compound_id="c1", building_id="b1", label="101"))
        session.flush()
        now = datetime.now(UTC)
        session.add(
            VisitorPass(
                id="pass-off",
                compound_id="c1",
                unit_id="u1",
                visitor_name="访客",
                valid_from=now - timedelta(hours=1),
                valid_until=now + timedelta(hours=1),
                max_entries=1,
                created_by="test",
            )
        )
        session.commit()


def test_offline_grants_beyond_a_pass_limit_are_flagged(
    hub: HubServices, compound_c1: None, edge_link: FakeEdgeLink
) -> None:
    """Entries no edge counted at the hub are counted when their events arrive, once."""
    epoch = uuid.uuid4()
    offline = ("offline_limit",)
    visitor = {"method": Method.QR, "ref": "pass-off", "subject_id": "pass-off"}
    for seq in (1, 2):  # two gates' edges each let the visitor in once while cut off
        event = _entry(
            Outcome.GRANTED,
            flags=offline,
            kind=SubjectKind.VISITOR,
            seq=seq,
            epoch=epoch,
            **visitor,  # type: ignore[arg-type]
        )
        edge_link.send(event)
        edge_link.send(event)  # re-sent: still counted once
    edge_link.confirmed_ids(2)
    with Session(hub.engine) as session:
        row = session.get(VisitorPass, "pass-off")
        assert row is not None and row.entries_used == 2
        alarms = session.exec(select(Alarm).where(Alarm.code == "pass_overused")).all()
    assert len(alarms) == 1 and "pass-off" in alarms[0].text


def test_watchlist_hits_and_duress_reach_the_officers_topic(
    hub: HubServices, edge_link: FakeEdgeLink, broker_url: str, topic_prefix: str
) -> None:
    alerts: queue.Queue[OfficerAlert] = queue.Queue()
    officers = MqttLink(BrokerAddress.from_url(broker_url), client_id=f"o-{uuid.uuid4().hex[:6]}")
    officers.subscribe(
        Topics(topic_prefix).officers("c1"),
        lambda t, p: alerts.put(OfficerAlert.model_validate_json(p)),
    )
    officers.start()
    assert officers.wait_connected(10)
    epoch = uuid.uuid4()
    try:
        for seq, code in enumerate(("watchlist_hit", "outbox_filling", "duress"), start=1):
            edge_link.send(
                AlarmEvent(
                    event_id=uuid.uuid4(),
                    position=position(edge_id="edge-1", epoch=epoch, seq=seq),
                    compound_id="c1",
                    gate_id="east",
                    occurred_at=datetime.now(UTC),
                    code=code,
                    severity=Severity.CRITICAL,
                    text=f"{code} at east",
                )
            )
        edge_link.confirmed_ids(3)
        wait_until(lambda: alerts.qsize() >= 2, 10, "two officer alerts")
    finally:
        officers.stop()
    assert sorted(alerts.get().code for _ in range(2)) == ["duress", "watchlist_hit"]


def test_a_temporary_vehicle_has_a_stay_from_entry_to_exit(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    epoch = uuid.uuid4()
    plate = {"method": Method.PLATE, "ref": "苏E11111"}
    events = [
        _entry(Outcome.GRANTED, seconds_ago=600, seq=1, epoch=epoch, **plate),  # type: ignore[arg-type]
        _entry(
            Outcome.GRANTED,
            seconds_ago=500,
            seq=2,
            epoch=epoch,
            kind=SubjectKind.RESIDENT,
            method=Method.PLATE,
            ref="京A12345",
            subject_id="p-wang",
        ),
        _entry(
            Outcome.DENIED, seconds_ago=400, seq=3, epoch=epoch, ref="粤C00001", method=Method.PLATE
        ),
    ]
    leaving = _entry(Outcome.GRANTED, seconds_ago=60, seq=4, epoch=epoch, **plate)  # type: ignore[arg-type]
    leaving = leaving.model_copy(update={"direction": Direction.OUT})
    for event in [*events, leaving]:
        edge_link.send(event)
    edge_link.confirmed_ids(4)
    with Session(hub.engine) as session:
        stays = session.exec(select(VehicleStay)).all()
    assert [(s.plate, s.subject_kind) for s in stays] == [("苏E11111", "unknown")]
    [stay] = stays
    assert stay.exit_event_id == leaving.event_id
    assert stay.exited_at is not None and stay.entered_at < stay.exited_at
