"""Decision snapshots for staff, asked of the edge that keeps them (docs/evidence.md).

The hub keeps no images. To show one, it signs an `EvidenceRequest` for the edge that made
the decision, publishes it, and waits up to `WAIT_S` for that edge's signed reply on the
compound's evidence topic; the route audits the request before it is sent. Both go at QoS 0:
a picture must never wait in a broker's queue, or its files, for a hub that gave up on it.
At most `AT_ONCE` fetches wait at a time; more are refused at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from anju.mqtt import LinkDown, Message, MqttLink
from hub.errors import NotFound, Unavailable
from models.errors import ContractError
from models.evidence import EvidenceReply, EvidenceRequest, open_reply
from models.topics import Topics

logger = logging.getLogger(__name__)

WAIT_S = 10.0
AT_ONCE = 4  # a compound's fetches under way at once: one compound cannot starve another
HUB_AT_ONCE = 32  # all compounds' together: each waits on a thread of the hub's
JPEG_START = b"\xff\xd8\xff"


@dataclass
class _Asked:
    edge_id: str
    event_id: uuid.UUID
    key: Ed25519PublicKey
    answered: threading.Event = field(default_factory=threading.Event)
    reply: EvidenceReply | None = None


class SnapshotDesk:
    """The hub's side of the exchange."""

    def __init__(self, link: MqttLink, topics: Topics) -> None:
        self._link = link
        self._topics = topics
        self._asked: dict[uuid.UUID, _Asked] = {}
        self._lock = threading.Lock()
        self._compounds: dict[str, threading.BoundedSemaphore] = {}
        self._hub = threading.BoundedSemaphore(HUB_AT_ONCE)

    def start(self) -> None:
        """Before or after the link starts (its subscriptions are renewed at every connect)."""
        self._link.subscribe(self._topics.all_evidence(), self._on_reply, qos=0)

    def fetch(
        self,
        request: EvidenceRequest,
        token: str,
        key: Ed25519PublicKey,
        wait_s: float = WAIT_S,
    ) -> bytes:
        """The JPEG the edge sends for `request`, signed as `token`, in a reply signed with
        `key` (the edge's); Unavailable when the hub is busy with other fetches, or the
        broker or the edge does not answer in time; NotFound when the edge has none, with
        its reason."""
        slots = self._slots(request.compound_id)
        if not slots.acquire(blocking=False):
            raise Unavailable(f"{AT_ONCE} snapshots are being fetched already: try again")
        if not self._hub.acquire(blocking=False):
            slots.release()
            raise Unavailable(f"{HUB_AT_ONCE} snapshots are being fetched already: try again")
        edge_id = request.edge_id
        asked = _Asked(edge_id, request.event_id, key)
        try:
            with self._lock:
                self._asked[request.request_id] = asked
            topic = self._topics.evidence_request(request.compound_id, edge_id)
            try:
                self._link.publish(Message(topic, token.encode("ascii"), qos=0))
            except LinkDown as exc:
                raise Unavailable(
                    f"edge {edge_id} cannot be reached now (the hub is not connected to the"
                    " broker): try again later"
                ) from exc
            if not asked.answered.wait(wait_s):
                raise Unavailable(f"edge {edge_id} did not answer within {wait_s:g} s")
        finally:
            with self._lock:
                self._asked.pop(request.request_id, None)
            self._hub.release()
            slots.release()
        reply = asked.reply  # set before `answered`
        if reply is None or reply.jpeg is None:
            missing = reply.missing if reply is not None else None
            raise NotFound(f"no snapshot from edge {edge_id}: {missing}")
        return reply.jpeg

    def _slots(self, compound_id: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._compounds.setdefault(compound_id, threading.BoundedSemaphore(AT_ONCE))

    def _on_reply(self, topic: str, payload: bytes) -> None:
        """On paho's thread: check the reply against the edge whose topic it came on, then
        against the request it answers; wake the asker."""
        try:
            edge_id = self._topics.parse(topic).edge_id
        except ContractError:
            return
        with self._lock:
            keys = [a.key for a in self._asked.values() if a.edge_id == edge_id]
        if not keys:
            return  # too late, or no one here asked this edge
        try:
            reply = open_reply(payload, keys[0], edge_id)
        except ContractError as exc:
            logger.warning("evidence reply on %s dropped: %s", topic, exc)
            return
        with self._lock:
            asked = self._asked.get(reply.request_id)
        if asked is None or (asked.edge_id, asked.event_id) != (edge_id, reply.event_id):
            logger.warning("evidence reply on %s answers no request of ours", topic)
            return
        if reply.jpeg is not None and not reply.jpeg.startswith(JPEG_START):
            logger.warning("evidence reply on %s dropped: not a JPEG", topic)
            return
        asked.reply = reply
        asked.answered.set()
