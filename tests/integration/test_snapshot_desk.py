"""The hub's side of a snapshot request over a real Mosquitto: it takes the picture only from
the edge it asked, for the request and the event it asked about, and only a JPEG; it says
why when there is none, and refuses at once when too many fetches are waiting or when the
hub is cut off from the broker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anju.mqtt import BrokerAddress, Message, MqttLink
from hub import evidence
from hub.errors import NotFound, Unavailable
from hub.evidence import SnapshotDesk
from models.evidence import EvidenceReply, EvidenceRequest, seal_reply
from models.signing import generate_key
from models.tokens import sign_token, verify_token
from models.topics import Topics

pytestmark = pytest.mark.integration

PICTURE = b"\xff\xd8\xff\xe0" + b"a picture" * 50
Answer = Callable[[EvidenceRequest], tuple[str, bytes] | None]  # (topic, payload) or silence


@dataclass
class Exchange:
    desk: SnapshotDesk
    topics: Topics
    issuer: Ed25519PrivateKey
    edge_key: Ed25519PrivateKey
    answer: list[Answer]

    def fetch(self, wait_s: float = 1.0, compound_id: str = "c1") -> bytes:
        request = EvidenceRequest(
            request_id=uuid.uuid4(),
            compound_id=compound_id,
            edge_id="edge-1",
            event_id=uuid.uuid4(),
            issued_by="c1-staff",
            issued_at=datetime.now(UTC),
        )
        token = sign_token(request, self.issuer)
        return self.desk.fetch(request, token, self.edge_key.public_key(), wait_s)

    def reply(
        self, request: EvidenceRequest, signer: Ed25519PrivateKey | None = None, **change: object
    ) -> bytes:
        fields: dict[str, object] = {
            "request_id": request.request_id,
            "event_id": request.event_id,
            "edge_id": "edge-1",
            "jpeg": PICTURE,
        }
        reply = EvidenceReply.model_validate(fields | change)
        return seal_reply(reply, signer or self.edge_key)


def _link(broker_url: str) -> MqttLink:
    return MqttLink(BrokerAddress.from_url(broker_url), client_id=f"t-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def exchange(broker_url: str, topic_prefix: str) -> Iterator[Exchange]:
    topics = Topics(topic_prefix)
    hub_link, edge_link = _link(broker_url), _link(broker_url)
    desk = SnapshotDesk(hub_link, topics)
    issuer, edge_key = generate_key(), generate_key()
    answers: list[Answer] = []
    made = Exchange(desk, topics, issuer, edge_key, answers)

    def at_the_edge(topic: str, payload: bytes) -> None:
        request = verify_token(payload.decode("ascii"), EvidenceRequest, issuer.public_key())
        sent = answers[-1](request)
        if sent is not None:
            edge_link.publish(Message(sent[0], sent[1], qos=0))

    edge_link.subscribe(topics.evidence_request("c1", "edge-1"), at_the_edge, qos=0)
    desk.start()
    for link in (hub_link, edge_link):
        link.start()
        assert link.wait_connected(10)
    yield made
    hub_link.stop()
    edge_link.stop()


def test_the_picture_comes_from_the_edge_asked_for_the_event_asked(exchange: Exchange) -> None:
    own = exchange.topics.evidence("c1", "edge-1")
    exchange.answer.append(lambda r: (own, exchange.reply(r)))
    assert exchange.fetch() == PICTURE
    wrong: list[Answer] = [
        lambda r: (own, exchange.reply(r, event_id=uuid.uuid4())),  # another event's picture
        lambda r: (own, exchange.reply(r, request_id=uuid.uuid4())),
        lambda r: (own, exchange.reply(r, jpeg=b"<html>not a picture</html>")),
        lambda r: (exchange.topics.evidence("c1", "edge-2"), exchange.reply(r)),
        lambda r: (own, exchange.reply(r, signer=generate_key())),  # forged
        lambda r: (own, b"{not json"),
        lambda r: None,  # the edge is offline
    ]
    for answer in wrong:
        exchange.answer.append(answer)
        with pytest.raises(Unavailable, match="did not answer"):
            exchange.fetch(wait_s=0.7)


def test_the_edge_says_why_there_is_none(exchange: Exchange) -> None:
    own = exchange.topics.evidence("c1", "edge-1")
    exchange.answer.append(
        lambda r: (own, exchange.reply(r, jpeg=None, missing="past its retention"))
    )
    with pytest.raises(NotFound, match="past its retention"):
        exchange.fetch()


def test_too_many_fetches_at_once_are_refused_at_once(exchange: Exchange) -> None:
    asked = threading.Semaphore(0)

    def silence(request: EvidenceRequest) -> None:
        asked.release()  # one more fetch waits for this edge

    exchange.answer.append(silence)
    waiting = [
        threading.Thread(target=_expect_unavailable, args=(exchange,))
        for _ in range(evidence.AT_ONCE)
    ]
    for thread in waiting:
        thread.start()
    try:
        for _ in waiting:
            assert asked.acquire(timeout=5)
        started = datetime.now(UTC)
        with pytest.raises(Unavailable, match="being fetched already"):
            exchange.fetch(wait_s=5)
        assert (datetime.now(UTC) - started).total_seconds() < 1
        # Another compound's staff are not kept waiting by c1's: their fetch goes out (and
        # times out here, as nothing answers for c2).
        with pytest.raises(Unavailable, match="did not answer"):
            exchange.fetch(wait_s=0.5, compound_id="c2")
    finally:
        for thread in waiting:
            thread.join()


def _expect_unavailable(exchange: Exchange) -> None:
    with pytest.raises(Unavailable):
        exchange.fetch(wait_s=2)


def test_a_hub_cut_off_from_the_broker_says_so_at_once(broker_url: str, topic_prefix: str) -> None:
    hub_link = _link(broker_url)
    hub_link.start()
    assert hub_link.wait_connected(10)
    hub_link.stop()  # the hub's link is down now
    desk = SnapshotDesk(hub_link, Topics(topic_prefix))
    made = Exchange(desk, Topics(topic_prefix), generate_key(), generate_key(), [])
    started = datetime.now(UTC)
    with pytest.raises(Unavailable, match="edge edge-1 cannot be reached now"):
        made.fetch(wait_s=5)
    assert (datetime.now(UTC) - started).total_seconds() < 1  # not after the wait
