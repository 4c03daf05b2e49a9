"""MQTT ingest: validate, verify, store exactly once, commit, then confirm to the edge.

paho acknowledges a QoS 1 message to the broker as soon as it arrives, so a PUBACK proves
nothing; the edge forgets an event only when this module's confirmation says it is committed.
One worker thread drains the queue in batches: one transaction per batch, then one confirmation
per edge. A payload that cannot be accepted goes to the dead-letter table with its reason.
Nothing unconfirmed is lost when this process fails: its edges send it again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlmodel import Session

from anju.mqtt import LinkDown, Message, MqttLink
from hub import audit, crud, follow_up
from hub.event_time import ALARM_EVERY, CLOCK_AHEAD, Placed, TimeBounds, describe
from hub.metrics import HubMetrics
from hub.tables import Compound, as_utc, utcnow
from models.errors import BadSignature, ContractError
from models.events import (
    AuditHead,
    Confirmation,
    EdgeEvent,
    EdgeStatus,
    EntryEvent,
    Severity,
)
from models.signing import Envelope, load_public_key, open_envelope, verify
from models.topics import Topics

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 50_000
NO_BOUND = datetime.min.replace(tzinfo=UTC)
_TRANSIENT_RETRIES = 5


class UnknownEdge(ContractError):
    reason = "unknown_edge"


class TopicMismatch(ContractError):
    reason = "topic_mismatch"


class InternalError(ContractError):
    reason = "internal_error"


class RejectedByDatabase(ContractError):
    reason = "rejected_by_database"


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes

    @property
    def is_status(self) -> bool:
        return self.topic.endswith("/status")


@dataclass(frozen=True)
class Rejected:
    inbound: Inbound
    error: ContractError


@dataclass(frozen=True)
class _KnownEdge:
    compound_id: str
    key: Ed25519PublicKey
    in_service_since: datetime  # its compound's: no event can be dated before it


class Ingestor:
    def __init__(
        self,
        engine: Engine,
        link: MqttLink,
        topics: Topics,
        *,
        batch_max: int = 500,
        metrics: HubMetrics | None = None,
        clock_tolerance: timedelta = timedelta(minutes=5),
    ) -> None:
        """`clock_tolerance`: how far ahead of the hub's clock an event may be dated before
        it is counted at the hub's time instead (`hub.event_time`)."""
        self._engine = engine
        self._clock_tolerance = clock_tolerance
        self._clock_alarmed: dict[tuple[str, str], datetime] = {}  # (edge, flag): last alarm
        self._heads_alarmed: set[tuple[str, int]] = set()  # (edge, record) of lost heads
        self._heads_pending: set[tuple[str, int]] = set()  # alarmed in the batch under way
        self._metrics = metrics
        self._link = link
        self._topics = topics
        self._batch_max = batch_max
        self._queue: queue.Queue[Inbound] = queue.Queue(QUEUE_LIMIT)
        self._keys: dict[str, _KnownEdge] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.committed = 0
        self.overflowed = 0

    def start(self) -> None:
        self._link.subscribe(self._topics.all_events(), self._enqueue)
        self._link.subscribe(self._topics.all_status(), self._enqueue)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def backlog(self) -> int:
        return self._queue.qsize()

    def _enqueue(self, topic: str, payload: bytes) -> None:
        # Never block paho's network thread. What is dropped here was not confirmed, so its
        # edge sends it again.
        try:
            self._queue.put_nowait(Inbound(topic, payload))
        except queue.Full:
            self.overflowed += 1
            if self.overflowed % 1000 == 1:
                logger.warning("ingest queue full: %d messages left to be re-sent", self.overflowed)

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._drain()
            if not batch:
                continue
            try:
                self._process_resiliently(batch)
            except Exception:  # the thread must outlive any bug; the edges re-send
                logger.exception("ingest failed on a batch of %d messages", len(batch))

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

    def _process_resiliently(self, batch: list[Inbound]) -> None:
        """The whole batch in one transaction; if the database refuses it, one at a time, so
        that a single event it rejects cannot hold back the others."""
        try:
            self.process(batch)
            return
        except SQLAlchemyError as exc:
            logger.error("batch of %d not committed (%s); retrying one by one", len(batch), exc)
        for inbound in batch:
            self._process_one(inbound)

    def _process_one(self, inbound: Inbound) -> None:
        for attempt in range(1, _TRANSIENT_RETRIES + 1):
            try:
                self.process([inbound])
                return
            except DBAPIError as exc:
                if not exc.connection_invalidated and _is_permanent(exc):
                    self._quarantine(inbound, RejectedByDatabase(str(exc.orig)[:500]))
                    return
                logger.error("commit failed (attempt %d): %s", attempt, exc)
            except SQLAlchemyError as exc:
                logger.error("commit failed (attempt %d): %s", attempt, exc)
            self._stopping.wait(min(2.0**attempt, 10.0))
        logger.error("giving up on a message from %s for now; its edge re-sends", inbound.topic)

    def _quarantine(self, inbound: Inbound, error: ContractError) -> None:
        """Keep an event the database refused aside, and confirm it: it is held, not lost."""
        with Session(self._engine) as session:
            crud.add_dead_letter(
                session=session,
                topic=inbound.topic,
                reason=error.reason,
                detail=str(error),
                payload=inbound.payload,
            )
            session.commit()
        try:
            event = self._accept(inbound)
        except ContractError:
            return
        self._confirm([event])

    def process(self, batch: Sequence[Inbound]) -> list[Confirmation]:
        """Store one batch in one transaction; publish and return the confirmations."""
        events: list[EdgeEvent] = []
        sources: dict[UUID, Inbound] = {}
        rejected: list[Rejected] = []
        for inbound in (m for m in batch if not m.is_status):
            try:
                event = self._accept(inbound)
            except ContractError as exc:
                rejected.append(Rejected(inbound, exc))
                continue
            except Exception as exc:  # a bug must not stop ingest; the payload is kept
                logger.exception("ingest failed on a payload from %s", inbound.topic)
                rejected.append(Rejected(inbound, InternalError(repr(exc))))
                continue
            events.append(event)
            sources.setdefault(event.event_id, inbound)
        started = time.perf_counter()
        self._heads_pending = set()
        placed = self._place(events)
        with Session(self._engine) as session:
            result = crud.store_events(session=session, events=placed)
            follow_up.count_offline_entries(session, result.stored)
            stored = {e.event_id for e in result.stored}
            off_clock = [p for p in placed if p.reported_at and p.event.event_id in stored]
            uncounted = {p.event.event_id for p in off_clock if not p.counted}
            counted = [e for e in result.stored if e.event_id not in uncounted]
            follow_up.record_vehicle_stays(session, counted)
            alarmed = self._clock_alarms(session, off_clock)
            self._dead_letters(session, rejected)
            for conflict in result.conflicts:
                self._conflict(session, conflict, sources[conflict.event.event_id])
            self._record_statuses(session, [m for m in batch if m.is_status])
            session.commit()
        self._clock_alarmed.update(alarmed)  # only once they are stored
        self._heads_alarmed |= self._heads_pending
        self._measure(time.perf_counter() - started, result.stored, rejected)
        self.committed += len(result.stored)
        self._alert_officers(result.stored)
        return self._confirm(result.confirmed)

    def _measure(
        self, seconds: float, stored: Sequence[EdgeEvent], rejected: list[Rejected]
    ) -> None:
        if self._metrics is None:
            return
        self._metrics.commit_seconds.observe(seconds)
        for event in stored:
            outcome = event.decision.outcome.value if isinstance(event, EntryEvent) else ""
            self._metrics.stored.labels(event.kind, outcome).inc()
        for item in rejected:
            self._metrics.dead_letters.labels(item.error.reason).inc()

    def _accept(self, inbound: Inbound) -> EdgeEvent:
        envelope = open_envelope(inbound.payload)
        where = self._topics.parse(inbound.topic)
        edge = self._edge(envelope.edge_id)
        event = self._verify(envelope, edge)
        if where.edge_id != envelope.edge_id or where.compound_id != edge.compound_id:
            raise TopicMismatch(f"edge {envelope.edge_id} published on {inbound.topic}")
        if event.compound_id != edge.compound_id:
            raise TopicMismatch(f"edge {envelope.edge_id} sent an event of another compound")
        return event

    def _verify(self, envelope: Envelope, edge: _KnownEdge) -> EdgeEvent:
        try:
            return verify(envelope, edge.key)
        except BadSignature:
            # The edge may have been given a new key since it was cached: look once more.
            fresh = self._edge(envelope.edge_id, refresh=True)
            if fresh.key == edge.key:
                raise
            return verify(envelope, fresh.key)

    def _place(self, events: Sequence[EdgeEvent]) -> list[Placed]:
        bounds = TimeBounds(utcnow(), self._clock_tolerance)
        return [bounds.place(e, self._edge(e.position.edge_id).in_service_since) for e in events]

    def _clock_alarms(
        self, session: Session, off_clock: Sequence[Placed]
    ) -> dict[tuple[str, str], datetime]:
        """An alarm naming the edge whose events are dated where they cannot be, at most
        one of each kind per edge per `ALARM_EVERY` (a drifting edge sends many). Returns
        when each was raised, to be remembered once the batch is committed."""
        raised: dict[tuple[str, str], datetime] = {}
        for placed in off_clock:
            edge_id, code = placed.event.position.edge_id, placed.flag or CLOCK_AHEAD
            now = utcnow()
            last = raised.get((edge_id, code)) or self._clock_alarmed.get((edge_id, code))
            if last is not None and now - last < ALARM_EVERY:
                continue
            raised[(edge_id, code)] = now
            text = describe(placed, edge_id)
            logger.warning(text)
            crud.raise_hub_alarm(
                session=session,
                code=code,
                severity=(Severity.WARNING if placed.counted else Severity.CRITICAL).value,
                text=text,
                edge_id=edge_id,
            )
        return raised

    def _edge(self, edge_id: str, *, refresh: bool = False) -> _KnownEdge:
        known = None if refresh else self._keys.get(edge_id)
        if known is not None:
            return known
        with Session(self._engine) as session:
            edge = crud.get_edge(session=session, edge_id=edge_id)
            compound = None if edge is None else session.get(Compound, edge.compound_id)
        if edge is None:
            raise UnknownEdge(f"edge {edge_id!r} is not registered")
        # An edge registered for a compound the hub has no record of has no lower bound.
        since = NO_BOUND if compound is None else as_utc(compound.in_service_since)
        known = _KnownEdge(edge.compound_id, load_public_key(edge.public_key), since)
        self._keys[edge_id] = known
        return known

    def _dead_letters(self, session: Session, rejected: list[Rejected]) -> None:
        for item in rejected:
            if crud.add_dead_letter(
                session=session,
                topic=item.inbound.topic,
                reason=item.error.reason,
                detail=str(item.error),
                payload=item.inbound.payload,
            ):
                logger.warning("dead letter (%s) on %s", item.error.reason, item.inbound.topic)

    def _conflict(self, session: Session, conflict: crud.EventConflict, inbound: Inbound) -> None:
        """Alarm once, and keep the payload: never drop it, never merge it."""
        new = crud.add_dead_letter(
            session=session,
            topic=inbound.topic,
            reason=conflict.code,
            detail=conflict.text,
            payload=inbound.payload,
        )
        if new:
            logger.error(conflict.text)
            crud.raise_hub_alarm(
                session=session,
                code=conflict.code,
                severity=Severity.CRITICAL.value,
                text=conflict.text,
                edge_id=conflict.event.position.edge_id,
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
            elif status.audit_head is not None:
                self._check_head(session, status.edge_id, status.audit_head)

    def _check_head(self, session: Session, edge_id: str, heard: AuditHead) -> None:
        """The audit head an edge says back, against the chain, as it arrives: a cut tail is
        alarmed before the chain grows past the head again (once per edge and head)."""
        problem = audit.unheld(session, edge_id, heard)
        key = (edge_id, heard.record)
        if problem is None or key in self._heads_alarmed or key in self._heads_pending:
            return
        self._heads_pending.add(key)  # remembered once the batch is committed
        logger.error(problem)
        crud.raise_hub_alarm(
            session=session,
            code="audit_head_lost",
            severity=Severity.CRITICAL.value,
            text=problem,
            edge_id=edge_id,
        )

    def _alert_officers(self, events: list[EdgeEvent]) -> None:
        """Once stored (a re-sent duplicate alerts no one twice)."""
        for alert in follow_up.officer_alerts(events):
            topic = self._topics.officers(alert.compound_id)
            try:
                self._link.publish(Message(topic, alert.model_dump_json().encode(), qos=1))
            except LinkDown as exc:
                # Stored with the alarms, but no officer hears of it now: someone must look.
                logger.error(
                    "officer alert %s (%s) not pushed: %s", alert.event_id, alert.code, exc
                )

    def _confirm(self, events: list[EdgeEvent]) -> list[Confirmation]:
        by_edge: dict[tuple[str, str], dict[UUID, None]] = defaultdict(dict)
        for event in events:
            by_edge[(event.compound_id, event.position.edge_id)][event.event_id] = None
        confirmations = []
        for (compound_id, edge_id), ids in by_edge.items():
            confirmation = Confirmation(edge_id=edge_id, event_ids=list(ids))
            topic = self._topics.confirm(compound_id, edge_id)
            try:
                self._link.publish(Message(topic, confirmation.model_dump_json().encode()))
            except LinkDown as exc:  # the edge keeps the events and sends them again
                logger.warning("confirmation to %s not sent (%s); it will re-send", edge_id, exc)
            confirmations.append(confirmation)
        return confirmations


def _is_permanent(exc: DBAPIError) -> bool:
    """Errors about the data itself (bad value, constraint), not about reaching the database."""
    return isinstance(exc, DataError | IntegrityError | ProgrammingError)
