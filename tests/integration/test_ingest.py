"""Hub ingest through a real Mosquitto into SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from harness.processes import wait_until
from hub import crud
from hub.ingest import Inbound
from hub.services import HubServices
from hub.tables import Alarm, DeadLetter, Edge, Entry, Receipt
from models.events import EdgeStatus
from models.signing import MAX_PAYLOAD_BYTES, generate_key, public_key_pem, seal
from tests import factories
from tests.integration.conftest import FakeEdgeLink

pytestmark = pytest.mark.integration


def _wait(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    wait_until(predicate, timeout_s, "the hub")


def _count(hub: HubServices, table: type) -> int:
    with Session(hub.engine) as session:
        return len(session.exec(select(table)).all())


def _dead_letters(hub: HubServices) -> list[DeadLetter]:
    with Session(hub.engine) as session:
        return list(session.exec(select(DeadLetter)).all())


def test_events_are_stored_then_confirmed(hub: HubServices, edge_link: FakeEdgeLink) -> None:
    epoch = uuid.uuid4()
    events = [factories.entry(factories.position(epoch=epoch, seq=s)) for s in range(1, 21)]
    events.append(factories.alarm(factories.position(epoch=epoch, seq=21)))
    for event in events:
        edge_link.send(event)
    assert edge_link.confirmed_ids(len(events)) == {e.event_id for e in events}
    assert _count(hub, Entry) == 20
    assert _count(hub, Alarm) == 1
    with Session(hub.engine) as session:
        seqs = sorted(r.seq for r in session.exec(select(Receipt)).all())
    assert seqs == list(range(1, 22))


@pytest.mark.dialects
def test_a_resent_event_is_stored_once_and_confirmed_again(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    event = factories.entry()
    edge_link.send(event)
    assert edge_link.confirmed_ids(1) == {event.event_id}
    edge_link.send(event)
    edge_link.send(event)
    marker = factories.entry()
    edge_link.send(marker)  # processed in order: once confirmed, the re-sends were handled
    assert edge_link.confirmed_ids(2) == {event.event_id, marker.event_id}
    assert _count(hub, Entry) == 2
    assert _dead_letters(hub) == []


@pytest.mark.dialects
@pytest.mark.expect_error_log("hub.ingest")  # the conflict, said
def test_a_new_event_at_a_taken_position_raises_an_alarm_and_is_kept(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    position = factories.position()
    first, impostor = factories.entry(position), factories.entry(position)
    edge_link.send(first)
    assert edge_link.confirmed_ids(1) == {first.event_id}
    edge_link.send(impostor)
    assert edge_link.confirmed_ids(1) == {impostor.event_id}
    with Session(hub.engine) as session:
        stored = session.exec(select(Entry)).all()
        alarms = session.exec(select(Alarm)).all()
    assert [e.event_id for e in stored] == [first.event_id]
    assert [(a.code, a.source) for a in alarms] == [("position_conflict", "hub")]
    [letter] = _dead_letters(hub)
    assert letter.reason == "position_conflict"
    assert str(impostor.event_id) in letter.payload.decode()

    edge_link.send(impostor)  # re-sent: confirmed again, counted, no second alarm
    assert edge_link.confirmed_ids(1) == {impostor.event_id}
    [letter] = _dead_letters(hub)
    assert letter.count == 2
    assert _count(hub, Alarm) == 1


@pytest.mark.dialects
@pytest.mark.expect_error_log("hub.ingest")  # the conflict, said
def test_a_known_event_id_at_another_position_is_a_conflict(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    first = factories.entry(factories.position(seq=1))
    reused = first.model_copy(update={"position": factories.position(seq=2)})
    edge_link.send(first)
    edge_link.send(reused)
    assert edge_link.confirmed_ids(1) == {first.event_id}
    _wait(lambda: len(_dead_letters(hub)) == 1)
    assert _dead_letters(hub)[0].reason == "event_id_reused"
    assert _count(hub, Entry) == 1


def _signed_with_other_key() -> bytes:
    return seal(factories.entry(), generate_key())


def _signed_body(edge: FakeEdgeLink, body: str) -> bytes:
    sig = base64.b64encode(edge.key.sign(body.encode())).decode()
    return json.dumps({"v": 1, "edge_id": edge.edge_id, "body": body, "sig": sig}).encode()


BAD_PAYLOADS: dict[str, Callable[[FakeEdgeLink], bytes]] = {
    "malformed": lambda edge: b"{this is not json",
    "unknown_version": lambda edge: json.dumps(
        {"v": 7, "edge_id": edge.edge_id, "body": "{}", "sig": ""}
    ).encode(),
    "too_large": lambda edge: b"{" + b" " * MAX_PAYLOAD_BYTES + b"}",
    "bad_signature": lambda edge: _signed_with_other_key(),
    "unknown_edge": lambda edge: seal(
        factories.entry(factories.position(edge_id="ghost")), edge.key
    ),
    "invalid_body": lambda edge: _signed_body(edge, '{"kind": "entry"}'),
}


@pytest.mark.parametrize("reason", sorted(BAD_PAYLOADS))
def test_bad_payloads_go_to_dead_letters_and_ingest_goes_on(
    hub: HubServices, edge_link: FakeEdgeLink, reason: str
) -> None:
    edge_link.send_raw(BAD_PAYLOADS[reason](edge_link))
    good = factories.entry()
    edge_link.send(good)
    assert edge_link.confirmed_ids(1) == {good.event_id}
    letters = _dead_letters(hub)
    assert [letter.reason for letter in letters] == [reason]
    assert letters[0].detail
    assert _count(hub, Entry) == 1


def test_an_event_on_another_edges_topic_is_refused(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    other_topic = edge_link.topics.events("c1", "edge-2")
    edge_link.send_raw(seal(factories.entry(), edge_link.key), topic=other_topic)
    _wait(lambda: len(_dead_letters(hub)) == 1)
    assert _dead_letters(hub)[0].reason == "topic_mismatch"
    assert _count(hub, Entry) == 0


def test_status_marks_the_edge_online_then_offline(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    topic = edge_link.topics.status("c1", "edge-1")

    def online() -> bool | None:
        with Session(hub.engine) as session:
            edge = session.get(Edge, "edge-1")
            return None if edge is None else edge.online

    def status(up: bool) -> bytes:
        return (
            EdgeStatus(edge_id="edge-1", online=up, at=datetime.now(UTC)).model_dump_json().encode()
        )

    edge_link.send_raw(status(True), topic=topic)
    _wait(lambda: online() is True)
    edge_link.send_raw(b"garbage", topic=topic)
    edge_link.send_raw(status(False), topic=topic)
    _wait(lambda: online() is False)


def test_a_resent_bad_payload_is_one_dead_letter_counted(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    for _ in range(3):
        edge_link.send_raw(b"nope")
    edge_link.send_raw(b"nope, again")
    _wait(lambda: sum(d.count for d in _dead_letters(hub)) == 4)
    assert sorted(d.count for d in _dead_letters(hub)) == [1, 3]
    with Session(hub.engine) as session:
        assert crud.count_dead_letters(session=session) == {"malformed": 4}


@pytest.mark.dialects
@pytest.mark.expect_error_log("hub.ingest")  # the conflict, said
def test_duplicates_and_conflicts_inside_one_batch(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    position = factories.position()
    first, impostor = factories.entry(position), factories.entry(position)
    batch = [
        Inbound(edge_link.topics.events("c1", "edge-1"), seal(e, edge_link.key))
        for e in (first, first, impostor)
    ]
    [confirmation] = hub.ingestor.process(batch)
    assert set(confirmation.event_ids) == {first.event_id, impostor.event_id}
    assert _count(hub, Entry) == 1
    assert [d.reason for d in _dead_letters(hub)] == ["position_conflict"]


@pytest.mark.dialects
@pytest.mark.expect_error_log("hub.ingest")  # the refused batch, said
def test_an_event_the_database_refuses_is_set_aside_and_the_rest_stored(
    hub: HubServices, edge_link: FakeEdgeLink, database_url: str
) -> None:
    _refuse_gate(hub, "poison-gate", postgres=database_url.startswith("postgresql"))
    good = [factories.entry(factories.position(seq=s)) for s in (1, 3)]
    bad = factories.entry(factories.position(seq=2), gate_id="poison-gate")
    for event in (good[0], bad, good[1]):
        edge_link.send(event)
    assert edge_link.confirmed_ids(3) == {e.event_id for e in (*good, bad)}
    assert _count(hub, Entry) == 2
    assert [d.reason for d in _dead_letters(hub)] == ["rejected_by_database"]


def _refuse_gate(hub: HubServices, gate_id: str, *, postgres: bool) -> None:
    """Make the database itself refuse rows of one gate, as it would refuse a bad value."""
    statements = (
        [f"ALTER TABLE entry ADD CONSTRAINT refuse_gate CHECK (gate_id <> '{gate_id}')"]
        if postgres
        else [
            "CREATE TRIGGER refuse_gate BEFORE INSERT ON entry"
            f" WHEN NEW.gate_id = '{gate_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
    )
    with hub.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_an_edge_given_a_new_key_is_accepted_without_a_restart(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    first = factories.entry(factories.position(seq=1))
    edge_link.send(first)
    assert edge_link.confirmed_ids(1) == {first.event_id}
    edge_link.key = generate_key()
    with Session(hub.engine) as session:
        crud.register_edge(
            session=session,
            edge_id="edge-1",
            compound_id="c1",
            public_key=public_key_pem(edge_link.key),
        )
        session.commit()
    second = factories.entry(factories.position(seq=2))
    edge_link.send(second)
    assert edge_link.confirmed_ids(1) == {second.event_id}


def test_a_status_that_breaks_validation_does_not_stop_ingest(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    topic = edge_link.topics.status("c1", "edge-1")
    edge_link.send_raw(
        b'{"edge_id": "edge-1", "online": true, "at": "0001-01-01T00:00:00+01:00"}', topic=topic
    )
    event = factories.entry()
    edge_link.send(event)
    assert edge_link.confirmed_ids(1) == {event.event_id}
    assert hub.ingestor.alive
