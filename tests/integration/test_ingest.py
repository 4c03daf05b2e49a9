"""Hub ingest through a real Mosquitto into SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from hub import crud
from hub.services import HubServices
from hub.tables import Alarm, DeadLetter, Edge, Entry, Receipt
from models.events import EdgeStatus
from models.signing import MAX_PAYLOAD_BYTES, generate_key, seal
from tests import factories
from tests.integration.conftest import FakeEdgeLink

pytestmark = pytest.mark.integration


def _wait(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


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


def test_a_resent_event_is_stored_once_and_confirmed_again(
    hub: HubServices, edge_link: FakeEdgeLink
) -> None:
    event = factories.entry()
    edge_link.send(event)
    assert edge_link.confirmed_ids(1) == {event.event_id}
    edge_link.send(event)
    edge_link.send(event)
    assert edge_link.confirmed_ids(1) == {event.event_id}
    assert _count(hub, Entry) == 1
    assert _dead_letters(hub) == []


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


def test_dead_letters_are_counted_by_reason(hub: HubServices, edge_link: FakeEdgeLink) -> None:
    for _ in range(3):
        edge_link.send_raw(b"nope")
    _wait(lambda: len(_dead_letters(hub)) == 3)
    with Session(hub.engine) as session:
        assert crud.count_dead_letters(session=session) == {"malformed": 3}
