"""Wiring of the edge daemon: registry, outbox, MQTT link, delivery and readers."""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from datetime import UTC, datetime

from anju.mqtt import BrokerAddress, MqttLink
from edge.config import EdgeSettings, Fallback, WiegandReaderSection
from edge.decide import CardEvidence, PinEvidence, Verdict, decide_card, decide_pin, deny
from edge.delivery import Delivery, last_will
from edge.errors import ConfigError, OutboxError, OutboxFull
from edge.outbox import Outbox
from edge.pin_guard import PinGuard
from edge.readers import WiegandListener
from edge.registry import RegistryCache, RegistryInfo
from edge.sync import RegistrySync
from models.events import AlarmEvent, Credential, EntryEvent, Method, Position, Severity
from models.pins import pin_digest
from models.signing import load_private_key
from models.topics import Topics
from models.wiegand import WiegandRead

logger = logging.getLogger(__name__)


class EdgeDaemon:
    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self.registry = RegistryCache(settings.compound_id)
        self.outbox = Outbox(
            settings.outbox.path,
            edge_id=settings.edge_id,
            capacity=settings.outbox.capacity,
            alarm_thresholds=settings.outbox.alarm_thresholds,
        )
        self.listeners = [WiegandListener(r, self._on_card, self._on_pin) for r in settings.readers]
        self._link: MqttLink | None = None
        self._delivery: Delivery | None = None
        self._sync: RegistrySync | None = None
        self._pin_key: bytes | None = None
        self._pin_guard = PinGuard()

    def registry_info(self) -> RegistryInfo:
        now = time.time()
        stale = self._sync is not None and self._sync.stale(now)
        return RegistryInfo(self.registry.version, self.registry.age_s(now), stale)

    def start(self) -> None:
        settings = self._settings
        key = load_private_key(settings.signing_key)  # fail before touching anything
        self._pin_key = _read_pin_key(settings)
        self.registry = RegistryCache.load(settings.registry_path, settings.compound_id)
        self.outbox.open()
        topics = Topics(settings.mqtt.topic_prefix)
        self._link = MqttLink(
            BrokerAddress.from_url(settings.mqtt.url),
            client_id=f"anju-edge-{settings.edge_id}",
            will=last_will(topics, settings.compound_id, settings.edge_id),
            keepalive_s=settings.mqtt.keepalive_s,
        )
        self._delivery = Delivery(
            compound_id=settings.compound_id,
            edge_id=settings.edge_id,
            outbox=self.outbox,
            link=self._link,
            key=key,
            topics=topics,
            settings=settings.outbox,
            status_interval_s=settings.status_interval_s,
            registry_info=self.registry_info,
        )
        if settings.hub is not None:
            self._sync = RegistrySync(settings.hub, self.registry, settings.registry_path)
            self._link.subscribe(
                topics.registry(settings.compound_id, settings.edge_id), self._sync.on_nudge
            )
            self._sync.start()
        self._delivery.start()
        self._link.start()
        for listener in self.listeners:
            listener.start()
        logger.info(
            "edge %s up: registry v%d, %d readers",
            settings.edge_id,
            self.registry.version,
            len(self.listeners),
        )

    @property
    def refused(self) -> str | None:
        """Why the broker refused this edge for good (bad credentials, ACL), if it did."""
        return None if self._link is None else self._link.refused

    def stop(self) -> None:
        for listener in self.listeners:
            listener.stop()
        if self._sync is not None:
            self._sync.stop()
        if self._delivery is not None:
            self._delivery.stop()
        if self._link is not None and self._delivery is not None:
            self._link.stop(last=self._delivery.offline_message())
        self.outbox.close()

    def _fallback(self, method: str) -> Fallback:
        """How `method` decides now: `allow` unless the registry is stale."""
        hub = self._settings.hub
        if hub is None or not self.registry_info().stale:
            return "allow"
        return hub.fallback.get(method, "allow")

    def _on_card(self, reader: WiegandReaderSection, read: WiegandRead) -> bool:
        now = datetime.now(UTC)
        fallback = self._fallback("card")
        verdict = decide_card(CardEvidence(read.card_number), self.registry, now, fallback)
        credential = Credential(method=Method.CARD, reference=read.card_number)
        return self._record(reader, now, credential, verdict)

    def _on_pin(self, reader: WiegandReaderSection, pin: str) -> bool:
        now = datetime.now(UTC)
        lane = f"{reader.gate_id}/{reader.lane}"
        if self._pin_guard.locked(lane, time.monotonic()):
            verdict = deny("pin_locked", "Too many wrong PINs here; wait, or use a card.")
        elif self._pin_key is None:
            verdict = deny("pin_unavailable", "This gate cannot check PINs; use a card.")
        else:
            evidence = PinEvidence(pin_digest(self._pin_key, pin))
            verdict = decide_pin(evidence, self.registry, now, self._fallback("pin"))
            if self._pin_guard.record(lane, verdict.granted, time.monotonic()):
                self._alarm(reader, "pin_guessing", f"Repeated wrong PINs at {lane}; PINs paused.")
            if verdict.duress:
                text = f"Duress PIN of {verdict.subject.id} at {lane}."
                self._alarm(reader, "duress", text, Severity.CRITICAL)
        return self._record(reader, now, Credential(method=Method.PIN), verdict)

    def _alarm(
        self,
        reader: WiegandReaderSection,
        code: str,
        text: str,
        severity: Severity = Severity.WARNING,
    ) -> None:
        logger.warning("alarm %s at gate %s", code, reader.gate_id)
        if self._delivery is None:
            return

        def alarm(position: Position) -> AlarmEvent:
            return AlarmEvent(
                event_id=uuid.uuid4(),
                position=position,
                compound_id=self._settings.compound_id,
                gate_id=reader.gate_id,
                occurred_at=datetime.now(UTC),
                code=code,
                severity=severity,
                text=text,
            )

        try:
            self._delivery.emit(alarm)
        except OutboxError:
            logger.exception("alarm %s could not be recorded", code)

    def _record(
        self, reader: WiegandReaderSection, now: datetime, credential: Credential, verdict: Verdict
    ) -> bool:
        """Log and commit the entry event of a decision; the gate follows the decision even
        when the event cannot be recorded."""
        decision = verdict.decision
        logger.info(
            "gate %s %s: %s %s",
            reader.gate_id,
            decision.outcome.value,
            credential.method.value,
            decision.reason_code,
        )

        def entry(position: Position) -> EntryEvent:
            return EntryEvent(
                event_id=uuid.uuid4(),
                position=position,
                compound_id=self._settings.compound_id,
                gate_id=reader.gate_id,
                lane=reader.lane,
                direction=reader.direction,
                occurred_at=now,
                subject=verdict.subject,
                credential=credential,
                decision=decision,
            )

        if self._delivery is None:
            raise RuntimeError("a read before the daemon started")
        try:
            self._delivery.emit(entry)
        except OutboxFull as exc:
            logger.error("gate %s: event not recorded: %s", reader.gate_id, exc)
        except OutboxError:
            logger.exception("gate %s: event could not be recorded", reader.gate_id)
        return verdict.granted


def _read_pin_key(settings: EdgeSettings) -> bytes | None:
    """The compound's PIN key from the edge's bundle; without one, PINs are refused."""
    if settings.hub is None or settings.hub.pin_key_file is None:
        return None
    try:
        return base64.b64decode(settings.hub.pin_key_file.read_bytes(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise ConfigError(f"cannot read the PIN key {settings.hub.pin_key_file}: {exc}") from exc
