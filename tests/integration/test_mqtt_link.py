"""The MQTT wrapper's connection state against a real Mosquitto that restarts or refuses."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

from anju.mqtt import BrokerAddress, Message, MqttLink
from harness.broker import Mosquitto, mosquitto_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mosquitto_available(), reason="needs a mosquitto binary"),
]


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
        time.sleep(0.5)
        assert not listener.connected  # no lying about the connection
        broker.start()
        assert listener.wait_connected(30) and talker.wait_connected(30)
        assert talker.publish(Message("t/after", b"hello"))
        assert received.get(timeout=10) == b"hello"
    finally:
        listener.stop()
        talker.stop()
        broker.stop()


@pytest.mark.expect_error_log("anju.mqtt")  # the refusal, said
def test_a_broker_that_refuses_is_not_retried(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path, allow_anonymous=False).start()
    link = _link(broker, "stranger")
    try:
        link.start()
        deadline = time.monotonic() + 10
        while link.refused is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.refused == "Not authorized (CONNACK 0x87)"
        assert not link.connected
        assert not link.publish(Message("t/x", b"nope"))
    finally:
        link.stop()
        broker.stop()
