"""The edge's delivery against a real broker and a real hub: nothing lost, nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from edge.config import EdgeSettings, MqttSection, OutboxSection, WiegandReaderSection
from edge.daemon import EdgeDaemon
from firmware_mocks.card_reader import CardReader, Swipe
from harness.broker import Mosquitto, mosquitto_available
from harness.compound import DEFAULT_PEOPLE
from harness.processes import free_port, wait_until
from hub import audit, crud
from hub.core.config import HubSettings
from hub.services import HubServices
from hub.tables import Alarm, AuditRecord, Edge, Entry, as_utc, utcnow
from models.events import Direction
from models.signing import generate_key, private_key_pem, public_key_pem
from tests.factories import registry_snapshot

pytestmark = pytest.mark.integration


def _edge_settings(tmp_path: Path, broker_url: str, prefix: str, **outbox: float) -> EdgeSettings:
    key = generate_key()
    (tmp_path / "key.pem").write_bytes(private_key_pem(key))
    (tmp_path / "key.pub").write_text(public_key_pem(key))
    (tmp_path / "registry.json").write_text(
        registry_snapshot("c1", DEFAULT_PEOPLE).model_dump_json()
    )
    return EdgeSettings(
        edge_id="edge-1",
        compound_id="c1",
        signing_key=tmp_path / "key.pem",
        registry_path=tmp_path / "registry.json",
        status_interval_s=1,
        mqtt=MqttSection(url=broker_url, topic_prefix=prefix),
        outbox=OutboxSection(path=tmp_path / "outbox.sqlite", **outbox),
        ledger_path=tmp_path / "ledger.sqlite",
        readers=[
            WiegandReaderSection(
                listen_port=free_port(), gate_id="g1", lane="l1", direction=Direction.IN
            )
        ],
    )


def _hub(database_url: str, broker_url: str, prefix: str, **more: float) -> HubServices:
    return HubServices.build(
        HubSettings(
            database_url=database_url,
            mqtt_url=broker_url,
            topic_prefix=prefix,
            client_id=f"hub-{prefix}",
            **more,
        )
    )


def _register(engine: Engine, settings: EdgeSettings) -> None:
    with Session(engine) as session:
        crud.register_edge(
            session=session,
            edge_id=settings.edge_id,
            compound_id=settings.compound_id,
            public_key=(settings.signing_key.parent / "key.pub").read_text(),
        )
        session.commit()


def _swipe(settings: EdgeSettings, cards: list[int]) -> list[str]:
    reader = CardReader("127.0.0.1", settings.readers[0].listen_port)
    try:
        return [reader.present(Swipe(card)).result for card in cards]
    finally:
        reader.close()


def _entries(engine: Engine) -> list[Entry]:
    with Session(engine) as session:
        return list(session.exec(select(Entry).order_by(Entry.seq)).all())


@pytest.fixture
def edge_settings(tmp_path: Path, broker_url: str, topic_prefix: str) -> EdgeSettings:
    return _edge_settings(tmp_path, broker_url, topic_prefix, resend_after_s=1.0)


@pytest.fixture
def daemon(edge_settings: EdgeSettings) -> Iterator[EdgeDaemon]:
    daemon = EdgeDaemon.from_settings(edge_settings)
    yield daemon
    daemon.stop()


def test_swipes_reach_the_hub_and_leave_the_outbox(
    engine: Engine,
    database_url: str,
    broker_url: str,
    topic_prefix: str,
    edge_settings: EdgeSettings,
    daemon: EdgeDaemon,
) -> None:
    _register(engine, edge_settings)
    hub = _hub(database_url, broker_url, topic_prefix)
    hub.start()
    try:
        daemon.start()
        assert _swipe(edge_settings, [1001, 4242, 1002]) == ["granted", "denied", "granted"]
        wait_until(lambda: len(_entries(engine)) == 3, 15, "three entries")
        wait_until(lambda: daemon.outbox.health(0).rows == 0, 15, "an empty outbox")
    finally:
        hub.stop()
    entries = _entries(engine)
    assert [(e.seq, e.credential_ref, e.outcome) for e in entries] == [
        (1, "1001", "granted"),
        (2, "4242", "denied"),
        (3, "1002", "granted"),
    ]
    assert entries[0].subject_id == "p-wang-fang"


def test_events_wait_in_the_outbox_while_the_hub_is_down(
    engine: Engine,
    database_url: str,
    broker_url: str,
    topic_prefix: str,
    edge_settings: EdgeSettings,
    daemon: EdgeDaemon,
) -> None:
    _register(engine, edge_settings)
    daemon.start()
    _swipe(edge_settings, [1001, 1002, 1003, 2001])
    assert daemon.outbox.health(0).rows == 4
    hub = _hub(database_url, broker_url, topic_prefix)
    hub.start()
    try:
        wait_until(lambda: daemon.outbox.health(0).rows == 0, 20, "the backlog to drain")
    finally:
        hub.stop()
    assert [e.seq for e in _entries(engine)] == [1, 2, 3, 4]


@pytest.mark.skipif(not mosquitto_available(), reason="needs a mosquitto binary to restart")
def test_events_recorded_without_a_broker_are_delivered_when_it_comes(
    engine: Engine, database_url: str, tmp_path: Path, topic_prefix: str
) -> None:
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    settings = _edge_settings(tmp_path, url, topic_prefix, resend_after_s=1.0)
    _register(engine, settings)
    daemon = EdgeDaemon.from_settings(settings)
    daemon.start()
    try:
        assert _swipe(settings, [1001, 1003]) == ["granted", "granted"]
        broker = Mosquitto(tmp_path / "late-broker", port).start()
        hub = _hub(database_url, url, topic_prefix)
        hub.start()
        try:
            wait_until(lambda: len(_entries(engine)) == 2, 60, "the offline events")
            wait_until(lambda: daemon.outbox.health(0).rows == 0, 20, "an empty outbox")
        finally:
            hub.stop()
            broker.stop()
    finally:
        daemon.stop()


@pytest.mark.expect_error_log("edge.admission")  # events refused when full
def test_a_filling_outbox_raises_alarms_that_reach_the_hub(
    engine: Engine, database_url: str, tmp_path: Path, broker_url: str, topic_prefix: str
) -> None:
    settings = _edge_settings(tmp_path, broker_url, topic_prefix, capacity=10, resend_after_s=1.0)
    _register(engine, settings)
    daemon = EdgeDaemon.from_settings(settings)
    daemon.start()
    try:
        _swipe(settings, [1001] * 12)
        # Nine events; alarms at 80%, 90% and 100%; the last three swipes are refused.
        assert daemon.outbox.health(0).rows == 12
        hub = _hub(database_url, broker_url, topic_prefix)
        hub.start()
        try:
            wait_until(lambda: daemon.outbox.health(0).rows == 0, 20, "the backlog to drain")
        finally:
            hub.stop()
    finally:
        daemon.stop()
    with Session(engine) as session:
        alarms = session.exec(select(Alarm).order_by(Alarm.occurred_at)).all()
    assert [(a.code, a.severity) for a in alarms] == [
        ("outbox_filling", "warning"),
        ("outbox_filling", "critical"),
        ("outbox_filling", "critical"),
    ]
    assert len(_entries(engine)) == 9


def _witnessed(engine: Engine) -> tuple[int | None, datetime | None]:
    with Session(engine) as session:
        edge = session.get(Edge, "edge-1")
        assert edge is not None
        return edge.audit_head_record, edge.status_at and as_utc(edge.status_at)


@pytest.mark.expect_error_log("hub.ingest")  # the lost head, alarmed as the status arrives
def test_the_audit_head_the_edges_keep_shows_a_cut_tail(
    engine: Engine,
    database_url: str,
    broker_url: str,
    topic_prefix: str,
    edge_settings: EdgeSettings,
    daemon: EdgeDaemon,
) -> None:
    _register(engine, edge_settings)
    actor = audit.Actor("c1-staff", "staff", "c1")
    for n in range(3):
        audit.record(engine, actor=actor, action="read", target=f"person:p-{n}")
    hub = _hub(database_url, broker_url, topic_prefix, audit_head_every_s=0.5)
    hub.start()
    try:
        daemon.start()
        wait_until(lambda: _witnessed(engine)[0] == 3, 30, "the edge saying the head back")
        with Session(engine) as session:  # the newest records removed: a shorter chain
            for record in session.exec(select(AuditRecord).where(col(AuditRecord.id) > 1)):
                session.delete(record)
            session.commit()
        cut = utcnow()
        # The hub now says the head is record 1; the edge keeps the newer it heard.
        later = lambda: (_witnessed(engine)[1] or cut) > cut + timedelta(seconds=2)  # noqa: E731
        wait_until(later, 30, "a status from the edge after the hub said the shorter head")
        assert _witnessed(engine)[0] == 3
        with Session(engine) as session:
            result = audit.verify(session)
            lost = session.exec(select(Alarm).where(col(Alarm.code) == "audit_head_lost")).all()
    finally:
        hub.stop()
    assert result.records == 1
    assert [a.edge_id for a in lost] == ["edge-1"]  # once, though the edge says it again
    assert [p for p in result.problems if "edge edge-1" in p] == [
        "record 3, the chain's head as edge edge-1 last heard it, is gone or changed:"
        " the chain's newest records were removed"
    ]
