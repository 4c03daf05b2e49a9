"""Decision snapshots for staff, asked of the edge that keeps them (docs/evidence.md).

The hub keeps no images. To show one, it signs an `EvidenceRequest` for the edge that made
the decision, publishes it, and waits up to `WAIT_S` for that edge's signed reply on the
compound's evidence topic; the route audits the request before it is sent.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from anju.mqtt import Message, MqttLink
from hub.errors import NotFound, Unavailable
from models.errors import ContractError
from models.evidence import MAX_REPLY_BYTES, EvidenceReply, open_reply
from models.topics import Topics

logger = logging.getLogger(__name__)

WAIT_S = 10.0


@dataclass
class _Asked:
    edge_id: str
    key: Ed25519PublicKey
    answered: threading.Event = field(default_factory=threading.Event)
    reply: EvidenceReply | None = None


class SnapshotDesk:
    """The hub's side of the exchange: one request at a time per caller, many at once."""

    def __init__(self, link: MqttLink, topics: Topics) -> None:
        self._link = link
        self._topics = topics
        self._asked: dict[uuid.UUID, _Asked] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Before the link starts (its subscriptions are renewed at every connect)."""
        self._link.subscribe(self._topics.all_evidence(), self._on_reply)

    def fetch(
        self,
        *,
        compound_id: str,
        edge_id: str,
        key: Ed25519PublicKey,
        request_id: uuid.UUID,
        token: str,
        wait_s: float = WAIT_S,
    ) -> bytes:
        """The JPEG the edge sends for the signed request `token`; Unavailable when the
        broker or the edge does not answer in time, NotFound when the edge has none."""
        asked = _Asked(edge_id, key)
        with self._lock:
            self._asked[request_id] = asked
        try:
            topic = self._topics.evidence_request(compound_id, edge_id)
            if not self._link.publish(Message(topic, token.encode("ascii"), qos=1)):
                raise Unavailable("the broker is out of reach: the edge was not asked")
            if not asked.answered.wait(wait_s):
                raise Unavailable(f"edge {edge_id} did not answer within {wait_s:g} s")
        finally:
            with self._lock:
                self._asked.pop(request_id, None)
        reply = asked.reply
        if reply is None or reply.jpeg is None:
            raise NotFound(f"no snapshot on edge {edge_id}: {reply.missing if reply else ''}")
        return reply.jpeg

    def _on_reply(self, topic: str, payload: bytes) -> None:
        """On paho's thread: match the reply to its request, check it, wake the asker."""
        if len(payload) > MAX_REPLY_BYTES:
            logger.warning("evidence reply on %s dropped: %d bytes", topic, len(payload))
            return
        try:
            request_id = uuid.UUID(json.loads(json.loads(payload)["body"])["request_id"])
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("evidence reply on %s dropped: unreadable (%s)", topic, exc)
            return
        with self._lock:
            asked = self._asked.get(request_id)
        if asked is None:
            return  # too late, or for another hub's request
        try:
            reply = open_reply(payload, asked.key, asked.edge_id)
        except ContractError as exc:
            logger.warning("evidence reply on %s dropped: %s", topic, exc)
            return
        if reply.request_id == request_id:
            asked.reply = reply
            asked.answered.set()
