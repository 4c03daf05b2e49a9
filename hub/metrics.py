"""The hub's Prometheus metrics at `/metrics`: what ingest stored and refused and how long its
commits took, and, read from the database when scraped, each edge's last reported status
(as `anju_hub_edge_*`: online, backlog and its age, registry age, clock offset, how old
the status is; each edge's own /metrics says the same from its side, as `anju_edge_*`), open
anomalies, and the disk under an SQLite database. Counts and edge ids only: no personal data."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from hub.tables import Anomaly, Edge, as_utc, utcnow

COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class HubMetrics:
    def __init__(self, engine: Engine, mqtt_connected: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        self.stored = Counter(
            "anju_hub_events_stored",
            "Events stored once, by kind (entry, alarm) and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "anju_hub_dead_letters",
            "Payloads refused and kept, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "anju_hub_ingest_commit_seconds",
            "One ingest batch's transaction",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Collector(engine, mqtt_connected))


class _Collector(Collector):
    def __init__(self, engine: Engine, mqtt_connected: Callable[[], bool]) -> None:
        self._engine = engine
        self._mqtt_connected = mqtt_connected

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "anju_hub_mqtt_connected",
            "1 when the hub's MQTT link is up",
            value=float(self._mqtt_connected()),
        )
        with Session(self._engine) as session:
            edges = session.exec(select(Edge)).all()
            open_cases = session.exec(
                select(Anomaly.compound_id, func.count())
                .where(col(Anomaly.status) == "open")
                .group_by(col(Anomaly.compound_id))
            ).all()
        yield from _edge_families(edges)
        cases = GaugeMetricFamily("anju_hub_open_anomalies", "Open anomalies", labels=["compound"])
        for compound, count in open_cases:
            cases.add_metric([compound], float(count))
        yield cases
        database = self._engine.url.database
        if self._engine.dialect.name == "sqlite" and database:
            usage = shutil.disk_usage(Path(database).resolve().parent)
            yield GaugeMetricFamily(
                "anju_hub_disk_free_bytes", "Free space under the database", value=usage.free
            )
        yield GaugeMetricFamily("anju_hub_scraped_at_seconds", "Unix time", value=time.time())


_EDGE_GAUGES: tuple[tuple[str, str, Callable[[Edge], float | None]], ...] = (
    ("anju_hub_edge_online", "1 when the edge's status says online", lambda e: float(e.online)),
    ("anju_hub_edge_outbox_rows", "Unconfirmed events at the edge", lambda e: e.outbox_rows),
    (
        "anju_hub_edge_outbox_oldest_age_seconds",
        "Age of the edge's oldest unconfirmed event",
        lambda e: e.outbox_oldest_age_s or 0.0,
    ),
    (
        "anju_hub_edge_registry_age_seconds",
        "Since the edge's last sync",
        lambda e: e.registry_age_s,
    ),
    (
        "anju_hub_edge_clock_offset_seconds",
        "Hub clock minus edge clock",
        lambda e: e.clock_offset_s,
    ),
    (
        "anju_hub_edge_status_age_seconds",
        "Since the edge's last status reached the hub",
        lambda e: (utcnow() - as_utc(e.status_at)).total_seconds() if e.status_at else None,
    ),
)


def _edge_families(edges: Sequence[Edge]) -> Iterator[GaugeMetricFamily]:
    for name, text, read in _EDGE_GAUGES:
        family = GaugeMetricFamily(name, text, labels=["compound", "edge"])
        for edge in edges:
            value = read(edge)
            if value is not None:
                family.add_metric([edge.compound_id, edge.edge_id], float(value))
        yield family
