"""deploy/mosquitto's configuration on a real Mosquitto: TLS, per-edge passwords and the ACL.
What is allowed works; what is not is refused (the broker's answer, or nothing delivered)."""

from __future__ import annotations

import queue
import re
import shutil
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from anju.mqtt import BrokerAddress, Message, MqttLink
from harness.processes import Child, free_port, port_open, wait_until
from hub.provision import mosquitto_password_line
from models.topics import Topics
from tests.conftest import _missing
from tests.pki import make_pki

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
PASSWORDS = {"anju-hub": "hub-secret-1", "edge-1": "edge-secret-1", "edge-2": "edge-secret-2"}
T = Topics("anju")


@dataclass(frozen=True)
class SecureBroker:
    port: int
    cafile: Path

    def url(self, user: str | None, password: str | None = None) -> str:
        auth = f"{user}:{password or PASSWORDS[user]}@" if user else ""
        return f"mqtts://{auth}localhost:{self.port}?cafile={self.cafile}"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    if not shutil.which("mosquitto"):
        _missing("Mosquitto")
    etc = tmp_path_factory.mktemp("mosquitto-etc")
    make_pki(etc)
    (etc / "passwd").write_text(
        "".join(mosquitto_password_line(u, p) + "\n" for u, p in PASSWORDS.items()),
        encoding="ascii",
    )
    shutil.copy(DEPLOY / "acl", etc / "acl")
    port = free_port()
    config = (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8")
    config = config.replace("/etc/mosquitto/anju/", f"{etc}/")
    config = config.replace("persistence true", "persistence false")
    config = re.sub(r"(?m)^listener 8883$", f"listener {port} 127.0.0.1", config)
    (etc / "mosquitto.conf").write_text(config + "user root\n", encoding="utf-8")
    child = Child(
        "mosquitto-tls",
        [shutil.which("mosquitto") or "", "-c", str(etc / "mosquitto.conf")],
        etc / "mosquitto.log",
    ).start()
    wait_until(lambda: port_open("127.0.0.1", port), 10, "mosquitto with TLS to listen")
    yield SecureBroker(port, etc / "ca.pem")
    child.stop()


def link(broker: SecureBroker, user: str, *subscriptions: str) -> tuple[MqttLink, queue.Queue]:
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    mqtt = MqttLink(
        BrokerAddress.from_url(broker.url(user)), client_id=f"{user}-{uuid.uuid4().hex[:6]}"
    )
    for topic in subscriptions:
        mqtt.subscribe(topic, lambda t, p: received.put((t, p)))
    mqtt.start()
    return mqtt, received


def got(received: queue.Queue, timeout_s: float = 2.0) -> list[str]:
    topics: list[str] = []
    try:
        while True:
            topics.append(received.get(timeout=timeout_s)[0])
            timeout_s = 0.3
    except queue.Empty:
        return topics


def test_each_edge_publishes_only_its_own_topics(secure_broker: SecureBroker) -> None:
    hub, at_hub = link(secure_broker, "anju-hub", "anju/#")
    edge, _ = link(secure_broker, "edge-1")
    assert hub.wait_connected(10) and edge.wait_connected(10)
    mine, theirs = T.events("c1", "edge-1"), T.events("c1", "edge-2")
    snapshot, forged = T.evidence("c1", "edge-1"), T.evidence("c1", "edge-2")
    for topic in (
        mine,
        theirs,
        snapshot,
        forged,
        T.confirm("c1", "edge-1"),
        T.evidence_request("c1", "edge-2"),
        T.officers("c1"),
        "anju/hub/status",
    ):
        edge.publish(Message(topic, b"x"))
    assert sorted(got(at_hub)) == sorted([mine, snapshot])
    hub.stop()
    edge.stop()


def test_each_edge_reads_only_what_is_addressed_to_it(secure_broker: SecureBroker) -> None:
    hub, _ = link(secure_broker, "anju-hub")
    edge, at_edge = link(secure_broker, "edge-1", "anju/c1/edge/edge-1/#", "anju/hub/status")
    assert hub.wait_connected(10) and edge.wait_connected(10)
    wanted = [
        T.confirm("c1", "edge-1"),
        T.registry("c1", "edge-1"),
        T.command("c1", "edge-1"),
        T.evidence_request("c1", "edge-1"),
        "anju/hub/status",
    ]
    for topic in [*wanted, T.confirm("c1", "edge-2"), T.evidence("c1", "edge-1")]:
        hub.publish(Message(topic, b"x"))
    assert sorted(got(at_edge)) == sorted(wanted)
    hub.stop()
    edge.stop()


def test_wider_subscriptions_deliver_nothing_beyond_its_own(secure_broker: SecureBroker) -> None:
    """Mosquitto grants a subscription outside the ACL but delivers nothing through it."""
    hub, _ = link(secure_broker, "anju-hub")
    edge, at_edge = link(secure_broker, "edge-1", "anju/#")
    assert hub.wait_connected(10) and edge.wait_connected(10)
    others = [
        T.confirm("c1", "edge-2"),
        T.command("c1", "edge-2"),
        T.events("c1", "edge-2"),
        T.status("c1", "edge-2"),
        T.evidence("c1", "edge-2"),  # another gate's pictures
        T.evidence_request("c1", "edge-2"),
        T.officers("c1"),
    ]
    for topic in [*others, T.command("c1", "edge-1")]:
        hub.publish(Message(topic, b"x"))
    assert got(at_edge) == [T.command("c1", "edge-1")]
    hub.stop()
    edge.stop()


@pytest.mark.parametrize(
    ("user", "password"), [(None, None), ("edge-1", "wrong-password"), ("anju-hub", "x")]
)
def test_no_way_in_without_a_password(
    secure_broker: SecureBroker, user: str | None, password: str | None
) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:6]}")
    if user:
        client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(secure_broker.cafile))
    answers: queue.Queue[str] = queue.Queue()
    client.on_connect = lambda c, u, f, reason, p: answers.put(str(reason))
    client.connect("localhost", secure_broker.port)
    client.loop_start()
    try:
        assert answers.get(timeout=10) == "Not authorized"
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_client_that_does_not_trust_the_compounds_ca_does_not_connect(
    secure_broker: SecureBroker,
) -> None:
    context = ssl.create_default_context()  # the system's CAs only
    with (
        socket.create_connection(("127.0.0.1", secure_broker.port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="localhost").close()


def test_an_edge_cannot_take_over_the_hubs_session(secure_broker: SecureBroker) -> None:
    """The broker uses each user name as the client id, whatever id a client asks for."""
    hub, at_hub = link(secure_broker, "anju-hub", "anju/+/edge/+/events")
    assert hub.wait_connected(10)
    impostor = MqttLink(
        BrokerAddress.from_url(secure_broker.url("edge-1")),
        client_id="anju-hub",
        clean_session=False,
    )
    impostor.start()
    assert impostor.wait_connected(10)
    edge, _ = link(secure_broker, "edge-2")
    assert edge.wait_connected(10)
    edge.publish(Message(T.events("c1", "edge-2"), b"x"))
    assert got(at_hub) == [T.events("c1", "edge-2")], "the hub was not kicked off"
    for client in (impostor, edge, hub):
        client.stop()


def test_plain_mqtt_is_not_spoken_on_the_tls_port(secure_broker: SecureBroker) -> None:
    plain = MqttLink(
        BrokerAddress("127.0.0.1", secure_broker.port, "edge-1", PASSWORDS["edge-1"]),
        client_id="plain-probe",
    )
    plain.start()
    assert not plain.wait_connected(3)
    plain.stop()


def test_urls_say_tls_and_where_the_ca_is() -> None:
    address = BrokerAddress.from_url("mqtts://e:p@broker.example?cafile=/etc/anju/ca.pem")
    assert (address.tls, address.port, address.cafile) == (True, 8883, "/etc/anju/ca.pem")
    assert not BrokerAddress.from_url("mqtt://broker.example").tls
