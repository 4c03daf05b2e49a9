"""The MQTT wrapper's connection state against a real Mosquitto that restarts or refuses."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from anju.mqtt import Backoff, BrokerAddress, LinkDown, Message, MqttLink
from harness.broker import Mosquitto, mosquitto_available
from harness.processes import wait_until
from hub.provision import mosquitto_password_line

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mosquitto_available(), reason="needs a mosquitto binary"),
]

QUICK = Backoff(base_s=0.05, cap_s=0.05)  # a link that retried would do so 20 times a second


def _link(broker: Mosquitto, name: str) -> MqttLink:
    return MqttLink(BrokerAddress.from_url(broker.url), client_id=name)


def test_subscriptions_come_back_after_a_broker_restart(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path).start()
    received: queue.Queue[bytes] = queue.Queue()
    listener = _link(broker, "listener")
    listener.subscribe("t/#", lambda _topic, payload: received.put(payload))
    talker = _link(broker, "talker")
    try:
        listener.start()
        talker.start()
        assert listener.wait_connected(10) and talker.wait_connected(10)
        broker.stop()
        wait_until(lambda: not listener.connected, 5, "the listener to see the broker go")
        broker.start()
        assert listener.wait_connected(30) and talker.wait_connected(30)
        talker.publish(Message("t/after", b"hello"))
        assert received.get(timeout=10) == b"hello"
    finally:
        listener.stop()
        talker.stop()
        broker.stop()


@pytest.mark.expect_error_log("anju.mqtt")  # the refusal, said
def test_a_broker_that_refuses_is_not_retried(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path, allow_anonymous=False).start()
    link = MqttLink(BrokerAddress.from_url(broker.url), client_id="stranger", backoff=QUICK)
    try:
        link.start()
        wait_until(lambda: not link.running, 10, "the link to give up")
        assert link.refused == "Not authorized (CONNACK 0x87)"
        assert not link.connected
        with pytest.raises(LinkDown):
            link.publish(Message("t/x", b"nope"))
    finally:
        link.stop()
        broker.stop()


@pytest.mark.expect_error_log("anju.mqtt")  # the refusal, said
def test_a_wrong_password_is_refused_by_its_reason_code_once(tmp_path: Path) -> None:
    """Mosquitto answers a wrong password with 'not authorised' (3.1.1 return code 5, which
    paho hands over as 0x87): the link stops after that one answer instead of knocking on."""
    (tmp_path / "passwd").write_text(mosquitto_password_line("edge-9", "s3cret-pw") + "\n")
    broker = Mosquitto(tmp_path, allow_anonymous=False, password_file=tmp_path / "passwd")
    broker.start()
    url = f"mqtt://edge-9:wrong@127.0.0.1:{broker.port}"
    link = MqttLink(BrokerAddress.from_url(url), client_id="edge-9", backoff=QUICK)
    try:
        link.start()
        wait_until(lambda: not link.running, 10, "the link to give up")
        assert link.refused == "Not authorized (CONNACK 0x87)"
        assert not link.connected
    finally:
        link.stop()
        broker.stop()
    assert broker.log_path.read_text(encoding="utf-8").count("disconnected, not authorised") == 1


def test_a_subscription_made_while_connected_works_at_once(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path).start()
    listener, talker = _link(broker, "listener"), _link(broker, "talker")
    connects: list[None] = []
    listener.on_connected(lambda: connects.append(None))
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    try:
        listener.start()
        talker.start()
        assert listener.wait_connected(10) and talker.wait_connected(10)
        listener.subscribe("late/#", lambda topic, payload: received.put((topic, payload)))
        listener.subscribe("later", lambda topic, payload: received.put((topic, payload)))
        talker.publish(Message("late/1", b"first"))
        assert received.get(timeout=10) == ("late/1", b"first")
        listener.unsubscribe("late/#")
        talker.publish(Message("late/2", b"not for us any more"))
        talker.publish(Message("later", b"second"))  # after late/2, had that come
        assert received.get(timeout=10) == ("later", b"second")
        assert received.empty()
        assert len(connects) == 1, "subscribing reconnected"
    finally:
        listener.stop()
        talker.stop()
        broker.stop()


def test_publishing_while_offline_raises(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path).start()
    link = _link(broker, "offline")
    try:
        with pytest.raises(LinkDown, match="not connected"):
            link.publish(Message("t/x", b"before start"))
        link.start()
        assert link.wait_connected(10)
        link.publish(Message("t/x", b"connected"))
        broker.stop()
        wait_until(lambda: not link.connected, 5, "the link to see the broker go")
        with pytest.raises(LinkDown, match="not connected"):
            link.publish(Message("t/x", b"broker gone"))
    finally:
        link.stop()
        broker.stop()
