"""The hub's long-lived parts, built once from its settings and started with the app."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from anju.mqtt import BrokerAddress, LinkDown, Message, MqttLink
from hub import audit, audited, crud
from hub.analytics.job import AnalyticsJob
from hub.core.config import HubSettings
from hub.core.db import migrate
from hub.evidence import SnapshotDesk
from hub.ingest import Ingestor
from hub.metrics import HubMetrics
from hub.registry import Changes
from models.events import AuditHead, HubStatus
from models.registry import RegistryNudge
from models.topics import Topics

logger = logging.getLogger(__name__)


@dataclass
class HubServices:
    settings: HubSettings
    engine: Engine
    link: MqttLink
    ingestor: Ingestor
    analytics: AnalyticsJob
    metrics: HubMetrics
    snapshots: SnapshotDesk
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, settings: HubSettings) -> HubServices:
        engine = audit.sealed_engine(settings)
        topics = Topics(settings.topic_prefix)
        link = MqttLink(
            BrokerAddress.from_url(settings.mqtt_url),
            client_id=settings.client_id,
            clean_session=False,
            will=hub_status(topics, False),
        )
        metrics = HubMetrics(engine, lambda: link.connected)
        ingestor = Ingestor(
            engine,
            link,
            topics,
            batch_max=settings.ingest_batch,
            metrics=metrics,
            clock_tolerance=timedelta(seconds=settings.event_clock_tolerance_s),
        )
        analytics = AnalyticsJob(engine, settings.analytics, settings.analytics_every_s)
        return cls(
            settings=settings,
            engine=engine,
            link=link,
            ingestor=ingestor,
            analytics=analytics,
            metrics=metrics,
            snapshots=SnapshotDesk(link, topics),
        )

    def start(self) -> None:
        migrate(self.engine)
        self.ingestor.start()
        self.analytics.start()
        self.snapshots.start()
        self.link.on_connected(self.announce)
        self.link.start()
        every = self.settings.audit_head_every_s
        threading.Thread(target=self._announce_every, args=(every,), daemon=True).start()

    def announce(self) -> None:
        """The hub is online, and its audit chain's head is this (edges keep the newest)."""
        with Session(self.engine) as session:
            head = audit.head(session)
        try:
            self.link.publish(hub_status(Topics(self.settings.topic_prefix), True, head))
        except LinkDown as exc:  # lost again: the next connect announces it
            logger.info("online status not published: %s", exc)

    def _announce_every(self, every_s: float) -> None:
        while not self.stopping.wait(every_s):
            try:
                self.announce()
            except SQLAlchemyError as exc:  # the database away: the next round tries again
                logger.warning("audit head not published: %s", exc)

    def commit_registry(self, session: Session, changes: Changes, note: audited.Note) -> int:
        """Commit a registry change with its new version and its audit record
        (`hub.audited.commit`), then nudge the compound's edges."""
        version = audited.commit(session, note, changes)
        assert version is not None  # a registry change always has its version
        self.nudge(changes.compound_id, version)
        return version

    def nudge(self, compound_id: str, version: int) -> None:
        """Tell the compound's online edges that the registry moved on (they pull the delta)."""
        topics = Topics(self.settings.topic_prefix)
        payload = RegistryNudge(compound_id=compound_id, version=version).model_dump_json()
        for edge_id in self.edge_ids(compound_id):
            try:
                self.link.publish(Message(topics.registry(compound_id, edge_id), payload.encode()))
            except LinkDown as exc:  # one link for all edges: the rest would fail alike
                logger.warning(
                    "registry v%d of %s not announced (%s): its edges pull it at their next poll",
                    version,
                    compound_id,
                    exc,
                )
                return

    def edge_ids(self, compound_id: str) -> list[str]:
        with Session(self.engine) as session:
            return [e.edge_id for e in crud.list_edges(session=session, compound_id=compound_id)]

    def send_command(self, compound_id: str, edge_id: str, token: str) -> None:
        """A signed gate command to one edge (QoS 1, not retained: it expires in 30 s);
        LinkDown when the broker is out of reach."""
        topic = Topics(self.settings.topic_prefix).command(compound_id, edge_id)
        self.link.publish(Message(topic, token.encode("ascii"), qos=1))

    def stop(self) -> None:
        self.stopping.set()
        self.link.stop(last=hub_status(Topics(self.settings.topic_prefix), False))
        self.ingestor.stop()
        self.analytics.stop()
        self.engine.dispose()


def hub_status(topics: Topics, online: bool, head: AuditHead | None = None) -> Message:
    status = HubStatus(online=online, at=datetime.now(UTC), audit_head=head)
    return Message(topics.hub_status(), status.model_dump_json().encode(), qos=1, retain=True)
