"""Delivery of events to the hub: outbox first, then MQTT QoS 1, until the hub confirms.

One sender thread publishes what is due (never sent, or unconfirmed for `resend_after_s`),
keeping at most `window` events unconfirmed. Confirmations from the hub delete rows; a reconnect
makes every unconfirmed event due again. The retained status reports the outbox's backlog.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from anju.mqtt import LinkDown, Message, MqttLink
from edge.clock import ClockReading
from edge.config import OutboxSection
from edge.errors import OutboxError
from edge.outbox import FillAlarm, Outbox
from edge.registry import RegistryInfo
from models.events import (
    AlarmEvent,
    AuditHead,
    Confirmation,
    EdgeEvent,
    EdgeStatus,
    HubStatus,
    Position,
    Severity,
)
from models.signing import seal
from models.topics import Topics

logger = logging.getLogger(__name__)

EventFactory = Callable[[Position], EdgeEvent]


class AuditHeads(Protocol):
    """Where the newest head of the hub's audit chain is kept (the edge's ledger)."""

    def keep_audit_head(self, head: AuditHead) -> None: ...

    def audit_head(self) -> AuditHead | None: ...


class Delivery:
    def __init__(
        self,
        *,
        compound_id: str,
        edge_id: str,
        outbox: Outbox,
        link: MqttLink,
        key: Ed25519PrivateKey,
        topics: Topics,
        settings: OutboxSection,
        status_interval_s: float = 30.0,
        registry_info: Callable[[], RegistryInfo] = lambda: RegistryInfo(0, None, False),
        clock_info: Callable[[], ClockReading | None] = lambda: None,
        audit_heads: AuditHeads | None = None,
    ) -> None:
        """`audit_heads`: where the hub's audit head is kept and read back for the status
        (the edge's ledger), so that the head is known beyond the hub's database."""
        self._compound_id = compound_id
        self._edge_id = edge_id
        self._outbox = outbox
        self._link = link
        self._key = key
        self._settings = settings
        self._status_interval_s = status_interval_s
        self._registry_info = registry_info
        self._clock_info = clock_info
        self._audit_heads = audit_heads
        self._events_topic = topics.events(compound_id, edge_id)
        self._confirm_topic = topics.confirm(compound_id, edge_id)
        self._status_topic = topics.status(compound_id, edge_id)
        self._hub_status_topic = topics.hub_status()
        self._hub_online = False
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)
        self._last_status = 0.0

    def start(self) -> None:
        self._link.subscribe(self._confirm_topic, self._on_confirmation)
        self._link.subscribe(self._hub_status_topic, self._on_hub_status)
        self._link.on_connected(self._resend_all)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def emit(self, make: EventFactory) -> EdgeEvent:
        """Commit the event `make` builds at the next position, then schedule its sending."""
        made: list[EdgeEvent] = []
        _, crossed = self._outbox.append(lambda position: self._seal(make, position, made))
        for alarm in crossed:
            self._emit_fill_alarm(alarm)
        self._wake.set()
        return made[0]

    def _seal(
        self, make: EventFactory, position: Position, made: list[EdgeEvent]
    ) -> tuple[uuid.UUID, bytes]:
        event = make(position)
        made.append(event)
        return event.event_id, seal(event, self._key)

    def _emit_fill_alarm(self, alarm: FillAlarm) -> None:
        text = (
            f"Outbox {alarm.threshold:.0%} full: {alarm.rows} of {alarm.capacity} events"
            " not yet confirmed by the hub."
        )
        if alarm.threshold >= 1.0:
            text += " New events are refused until the hub confirms some."
        logger.warning(text)

        def make(position: Position) -> AlarmEvent:
            return AlarmEvent(
                event_id=uuid.uuid4(),
                position=position,
                compound_id=self._compound_id,
                occurred_at=datetime.now(UTC),
                code="outbox_filling",
                severity=Severity.CRITICAL if alarm.threshold >= 0.9 else Severity.WARNING,
                text=text,
            )

        self._outbox.append_alarm(lambda position: self._seal(make, position, []))

    def _resend_all(self) -> None:
        """Nothing in flight can be trusted to arrive: make every unconfirmed event due."""
        try:
            self._outbox.mark_all_unsent()
        except OutboxError:
            logger.exception("cannot reset in-flight events after reconnect")
        self._last_status = 0.0
        self._wake.set()

    def _on_hub_status(self, topic: str, payload: bytes) -> None:
        try:
            hub = HubStatus.model_validate_json(payload)
        except ValidationError as exc:
            logger.warning("ignoring malformed hub status: %s", exc.errors()[0]["msg"])
            return
        online = hub.online
        if hub.audit_head is not None and self._audit_heads is not None:
            self._keep(hub.audit_head)
        if online and not self._hub_online:
            logger.info("the hub is online: re-sending what it has not confirmed")
            self._resend_all()
        self._hub_online = online

    def _keep(self, head: AuditHead) -> None:
        assert self._audit_heads is not None
        try:
            self._audit_heads.keep_audit_head(head)
        except sqlite3.Error as exc:  # a full disk: the next hub status tries again
            logger.warning("the hub's audit head not kept: %s", exc)

    def _on_confirmation(self, topic: str, payload: bytes) -> None:
        try:
            confirmation = Confirmation.model_validate_json(payload)
        except ValidationError as exc:
            logger.warning("ignoring malformed confirmation: %s", exc.errors()[0]["msg"])
            return
        if confirmation.edge_id != self._edge_id:
            logger.warning("ignoring confirmation for edge %s", confirmation.edge_id)
            return
        self._outbox.confirm(confirmation.event_ids)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if self._stopping.is_set() or not self._link.connected:
                continue
            try:
                self._send_due()
                self._refresh_status()
            except OutboxError as exc:
                logger.error("outbox unavailable, retrying: %s", exc)
                self._stopping.wait(1.0)
            except Exception:  # the sender must outlive any bug: the gate's events wait for it
                logger.exception("delivery failed; retrying")
                self._stopping.wait(1.0)

    def _send_due(self) -> None:
        now = time.time()
        room = self._settings.window - self._outbox.in_flight(now)
        if room <= 0:
            return
        due = self._outbox.due(now, room)
        sent: list[int] = []
        for pending in due:
            try:
                self._link.publish(Message(self._events_topic, pending.payload))
            except LinkDown as exc:
                # The outbox keeps this event and the rest unsent: due again at once when
                # the link is back (every reconnect makes all unconfirmed events due).
                logger.info("events wait in the outbox: %s", exc)
                break
            sent.append(pending.seq)
        self._outbox.mark_sent(sent, now, self._settings.resend_after_s)
        if len(due) == room and len(sent) == len(due):
            self._wake.set()

    def _refresh_status(self) -> None:
        if time.monotonic() - self._last_status >= self._status_interval_s:
            self._last_status = time.monotonic()
            try:
                self._link.publish(self._status_message(online=True))
            except LinkDown as exc:  # the next connect publishes it (`_resend_all`)
                logger.info("status not published: %s", exc)
                self._last_status = 0.0

    def _status_message(self, *, online: bool) -> Message:
        registry = self._registry_info()
        clock = self._clock_info()
        status = EdgeStatus(
            edge_id=self._edge_id,
            online=online,
            at=datetime.now(UTC),
            outbox=self._outbox.health(time.time()),
            registry_version=registry.version,
            registry_age_s=registry.age_s,
            registry_stale=registry.stale,
            clock_offset_s=None if clock is None else clock.offset_s,
            clock_trusted=None if clock is None else clock.trusted,
            face_engine=registry.face_engine,
            audit_head=self._kept_head(),
            faces_skipped=registry.faces_skipped,
        )
        return _retained(self._status_topic, status)

    def _kept_head(self) -> AuditHead | None:
        if self._audit_heads is None:
            return None
        try:
            return self._audit_heads.audit_head()
        except sqlite3.Error:
            return None

    def offline_message(self) -> Message:
        """The status published on a clean shutdown."""
        return self._status_message(online=False)


def last_will(topics: Topics, compound_id: str, edge_id: str) -> Message:
    """What the broker publishes for an edge that vanished without saying goodbye. Its `at`
    is when the edge connected; the hub stamps a status with the time it heard it."""
    status = EdgeStatus(edge_id=edge_id, online=False, at=datetime.now(UTC))
    return _retained(topics.status(compound_id, edge_id), status)


def _retained(topic: str, status: EdgeStatus) -> Message:
    return Message(topic, status.model_dump_json().encode(), qos=1, retain=True)
