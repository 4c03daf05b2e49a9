from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from anju.mqtt import BrokerAddress, Message, MqttLink
from hub import crud
from hub.core.config import HubSettings
from hub.services import HubServices
from models.events import Confirmation, EdgeEvent
from models.signing import generate_key, public_key_pem, seal
from models.topics import Topics

pytestmark = pytest.mark.integration


class FakeEdgeLink:
    """Plays an edge on the wire: publishes payloads, collects the hub's confirmations.

    Not a mock of our edge: the edge's own delivery is tested elsewhere. This lets a test put
    exactly the bytes it wants on the events topic.
    """

    def __init__(self, broker_url: str, topics: Topics, compound_id: str, edge_id: str) -> None:
        self.key: Ed25519PrivateKey = generate_key()
        self.topics = topics
        self.compound_id = compound_id
        self.edge_id = edge_id
        self.confirmed: queue.Queue[Confirmation] = queue.Queue()
        self.link = MqttLink(
            BrokerAddress.from_url(broker_url), client_id=f"test-edge-{uuid.uuid4().hex[:8]}"
        )
        self.link.subscribe(topics.confirm(compound_id, edge_id), self._on_confirm)

    def _on_confirm(self, topic: str, payload: bytes) -> None:
        self.confirmed.put(Confirmation.model_validate_json(payload))

    def start(self) -> None:
        self.link.start()
        assert self.link.wait_connected(10)

    def send(self, event: EdgeEvent) -> None:
        self.send_raw(seal(event, self.key))

    def send_raw(self, payload: bytes, topic: str | None = None) -> None:
        topic = topic or self.topics.events(self.compound_id, self.edge_id)
        assert self.link.publish(Message(topic, payload))

    def confirmed_ids(self, expected: int, timeout_s: float = 10.0) -> set[uuid.UUID]:
        seen: set[uuid.UUID] = set()
        while len(seen) < expected:
            seen.update(self.confirmed.get(timeout=timeout_s).event_ids)
        return seen


@pytest.fixture
def hub(engine, database_url: str, broker_url: str, topic_prefix: str) -> Iterator[HubServices]:
    settings = HubSettings(
        database_url=database_url,
        mqtt_url=broker_url,
        topic_prefix=topic_prefix,
        client_id=f"hub-{topic_prefix}",
    )
    services = HubServices.build(settings)
    services.start()
    assert services.link.wait_connected(10)
    yield services
    services.stop()


@pytest.fixture
def edge_link(hub: HubServices, broker_url: str, topic_prefix: str) -> Iterator[FakeEdgeLink]:
    edge = FakeEdgeLink(broker_url, Topics(topic_prefix), "c1", "edge-1")
    with Session(hub.engine) as session:
        crud.register_edge(
            session=session, edge_id="edge-1", compound_id="c1", public_key=public_key_pem(edge.key)
        )
        session.commit()
    edge.start()
    yield edge
    edge.link.stop()
