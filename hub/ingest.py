"""MQTT ingest: validate, verify, store exactly once, commit, then confirm to the edge.

paho acknowledges a QoS 1 message to the broker as soon as it arrives, so a PUBACK proves
nothing; the edge forgets an event only when this module's confirmation says it is committed.
One worker thread drains the queue in batches: one transaction per batch, then one confirmation
per edge. A payload that cannot be accepted goes to the dead-letter table with its reason.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from anju.mqtt import Message, MqttLink
from hub import crud
from models.errors import ContractError
from models.events import Confirmation, EdgeEvent, EdgeStatus, Severity
from models.signing import load_public_key, open_envelope, verify
from models.topics import Topics

logger = logging.getLogger(__name__)

_DB_RETRIES = 5


class UnknownEdge(ContractError):
    reason = "unknown_edge"


class TopicMismatch(ContractError):
    reason = "topic_mismatch"


class InternalError(ContractError):
    reason = "internal_error"


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes


@dataclass(frozen=True)
class Rejected:
    inbound: Inbound
    error: ContractError


@dataclass(frozen=True)
class _KnownEdge:
    compound_id: str
    key: Ed25519PublicKey


class Ingestor:
    def __init__(
        self, engine: Engine, link: MqttLink, topics: Topics, *, batch_max: int = 500
    ) -> None:
        self._engine = engine
        self._link = link
        self._topics = topics
        self._batch_max = batch_max
        self._queue: queue.Queue[Inbound] = queue.Queue()
        self._keys: dict[str, _KnownEdge] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.committed = 0

    def start(self) -> None:
        self._link.subscribe(self._topics.all_events(), self._enqueue)
        self._link.subscribe(self._topics.all_status(), self._enqueue)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def backlog(self) -> int:
        return self._queue.qsize()

    def _enqueue(self, topic: str, payload: bytes) -> None:
        self._queue.put(Inbound(topic, payload))

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._drain()
            if batch:
                self._process_with_retries(batch)

    def _drain(self) -> list[Inbound]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < self._batch_max:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process_with_retries(self, batch: list[Inbound]) -> None:
        for attempt in range(1, _DB_RETRIES + 1):
            try:
                self.process(batch)
                return
            except SQLAlchemyError as exc:
                logger.error("ingest commit failed (attempt %d): %s", attempt, exc)
                self._stopping.wait(min(2.0**attempt, 10.0))
        logger.error("dropping %d unconfirmed messages; their edges will re-send", len(batch))

    def process(self, batch: Sequence[Inbound]) -> list[Confirmation]:
        """Store one batch in one transaction; publish and return the confirmations."""
        statuses = [m for m in batch if m.topic.endswith("/status")]
        accepted: dict[UUID, tuple[EdgeEvent, Inbound]] = {}
        rejected: list[Rejected] = []
        for inbound in batch:
            if inbound.topic.endswith("/status"):
                continue
            try:
                event = self._accept(inbound)
                accepted.setdefault(event.event_id, (event, inbound))
            except ContractError as exc:
                rejected.append(Rejected(inbound, exc))
            except Exception as exc:  # a bug must not stop ingest; the payload is kept
                logger.exception("ingest failed on a payload from %s", inbound.topic)
                rejected.append(Rejected(inbound, InternalError(repr(exc))))
        events = [event for event, _ in accepted.values()]
        with Session(self._engine) as session:
            result = crud.store_events(session=session, events=events)
            self._dead_letters(session, rejected)
            for event in result.conflicts:
                self._conflict(session, event, accepted[event.event_id][1])
            self._record_statuses(session, statuses)
            session.commit()
        self.committed += len(result.stored)
        return self._confirm(result.confirmed)

    def _accept(self, inbound: Inbound) -> EdgeEvent:
        envelope = open_envelope(inbound.payload)
        where = self._topics.parse(inbound.topic)
        edge = self._edge(envelope.edge_id)
        event = verify(envelope, edge.key)
        if where.edge_id != envelope.edge_id or where.compound_id != edge.compound_id:
            raise TopicMismatch(f"edge {envelope.edge_id} published on {inbound.topic}")
        if event.compound_id != edge.compound_id:
            raise TopicMismatch(f"edge {envelope.edge_id} sent an event of another compound")
        return event

    def _edge(self, edge_id: str) -> _KnownEdge:
        known = self._keys.get(edge_id)
        if known is not None:
            return known
        with Session(self._engine) as session:
            edge = crud.get_edge(session=session, edge_id=edge_id)
        if edge is None:
            raise UnknownEdge(f"edge {edge_id!r} is not registered")
        known = _KnownEdge(edge.compound_id, load_public_key(edge.public_key))
        self._keys[edge_id] = known
        return known

    def _dead_letters(self, session: Session, rejected: list[Rejected]) -> None:
        for item in rejected:
            logger.warning("dead letter (%s) on %s", item.error.reason, item.inbound.topic)
            crud.add_dead_letter(
                session=session,
                topic=item.inbound.topic,
                reason=item.error.reason,
                detail=str(item.error),
                payload=item.inbound.payload,
            )

    def _conflict(self, session: Session, event: EdgeEvent, inbound: Inbound) -> None:
        """A new event at a taken position: alarm, and keep the payload, never drop it."""
        position = event.position
        text = (
            f"Edge {position.edge_id} sent event {event.event_id} at position"
            f" {position.epoch}/{position.seq}, which another event already holds."
        )
        logger.error(text)
        crud.raise_hub_alarm(
            session=session,
            code="position_conflict",
            severity=Severity.CRITICAL.value,
            text=text,
            edge_id=position.edge_id,
        )
        crud.add_dead_letter(
            session=session,
            topic=inbound.topic,
            reason="position_conflict",
            detail=text,
            payload=inbound.payload,
        )

    def _record_statuses(self, session: Session, statuses: list[Inbound]) -> None:
        for inbound in statuses:
            try:
                status = EdgeStatus.model_validate_json(inbound.payload)
                where = self._topics.parse(inbound.topic)
            except (ValidationError, ContractError) as exc:
                logger.warning("ignoring bad status on %s: %s", inbound.topic, exc)
                continue
            if where.edge_id != status.edge_id:
                logger.warning("ignoring status for %s on %s", status.edge_id, inbound.topic)
            elif not crud.record_status(session=session, status=status):
                logger.info("status from unregistered edge %s", status.edge_id)

    def _confirm(self, events: list[EdgeEvent]) -> list[Confirmation]:
        by_edge: dict[tuple[str, str], list[EdgeEvent]] = defaultdict(list)
        for event in events:
            by_edge[(event.compound_id, event.position.edge_id)].append(event)
        confirmations = []
        for (compound_id, edge_id), edge_events in by_edge.items():
            confirmation = Confirmation(
                edge_id=edge_id, event_ids=[e.event_id for e in edge_events]
            )
            topic = self._topics.confirm(compound_id, edge_id)
            if not self._link.publish(Message(topic, confirmation.model_dump_json().encode())):
                logger.warning("confirmation to %s not sent; it will re-send", edge_id)
            confirmations.append(confirmation)
        return confirmations
