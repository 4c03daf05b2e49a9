"""Wiring of the edge daemon: registry, outbox, MQTT link, delivery and readers."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from anju.mqtt import BrokerAddress, MqttLink
from edge.config import EdgeSettings, Fallback, WiegandReaderSection
from edge.decide import CardEvidence, decide_card
from edge.delivery import Delivery, last_will
from edge.errors import OutboxError, OutboxFull
from edge.outbox import Outbox
from edge.readers import WiegandListener
from edge.registry import RegistryCache, RegistryInfo
from edge.sync import RegistrySync
from models.events import Credential, EntryEvent, Method, Position
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
        self.listeners = [WiegandListener(r, self._on_card) for r in settings.readers]
        self._link: MqttLink | None = None
        self._delivery: Delivery | None = None
        self._sync: RegistrySync | None = None

    def registry_info(self) -> RegistryInfo:
        now = time.time()
        stale = self._sync is not None and self._sync.stale(now)
        return RegistryInfo(self.registry.version, self.registry.age_s(now), stale)

    def start(self) -> None:
        settings = self._settings
        key = load_private_key(settings.signing_key)  # fail before touching anything
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
        logger.info(
            "gate %s %s: card %s",
            reader.gate_id,
            verdict.decision.outcome.value,
            verdict.decision.reason_code,
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
                credential=Credential(method=Method.CARD, reference=read.card_number),
                decision=verdict.decision,
            )

        if self._delivery is None:
            raise RuntimeError("card read before the daemon started")
        try:
            self._delivery.emit(entry)
        except OutboxFull as exc:
            logger.error("gate %s: event not recorded: %s", reader.gate_id, exc)
        except OutboxError:
            logger.exception("gate %s: event could not be recorded", reader.gate_id)
        return verdict.granted
