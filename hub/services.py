"""The hub's long-lived parts, built once from its settings and started with the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from anju.mqtt import BrokerAddress, MqttLink
from hub.core.config import HubSettings
from hub.core.db import init_db, make_engine
from hub.ingest import Ingestor
from models.topics import Topics

logger = logging.getLogger(__name__)


@dataclass
class HubServices:
    settings: HubSettings
    engine: Engine
    link: MqttLink
    ingestor: Ingestor

    @classmethod
    def build(cls, settings: HubSettings) -> HubServices:
        engine = make_engine(settings.database_url)
        link = MqttLink(
            BrokerAddress.from_url(settings.mqtt_url),
            client_id=settings.client_id,
            clean_session=False,
        )
        ingestor = Ingestor(
            engine, link, Topics(settings.topic_prefix), batch_max=settings.ingest_batch
        )
        return cls(settings=settings, engine=engine, link=link, ingestor=ingestor)

    def start(self) -> None:
        init_db(self.engine)
        self.ingestor.start()
        self.link.start()

    def stop(self) -> None:
        self.link.stop()
        self.ingestor.stop()
        self.engine.dispose()
