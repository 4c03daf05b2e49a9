"""The edge's Prometheus metrics (`[metrics]` in its config): decisions by method and outcome,
each camera frame's processing time and age, and, read when scraped, the outbox's backlog,
the registry's age, the clock's offset, cameras' and gates' health, and the disk's room."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.clock import ClockReading
from edge.registry import RegistryInfo
from models.events import OutboxHealth

FRAME_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


@dataclass(frozen=True)
class Health:
    """A part that is up or not: a camera (frames arriving) or a gate (relay answering)."""

    kind: str
    name: str
    up: bool


@dataclass(frozen=True)
class Readings:
    """What the collector asks the daemon for at each scrape."""

    outbox: Callable[[], OutboxHealth]
    registry: Callable[[], RegistryInfo]
    clock: Callable[[], ClockReading]
    parts: Callable[[], Sequence[Health]]
    disk: Path


class EdgeMetrics:
    def __init__(self) -> None:
        self._server: WSGIServer | None = None
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "anju_edge_decisions",
            "Decisions by method and outcome",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.frame_seconds = Histogram(
            "anju_edge_frame_seconds",
            "Time to process one camera frame",
            ["camera"],
            buckets=FRAME_BUCKETS,
            registry=self.registry,
        )
        self.frame_age_seconds = Histogram(
            "anju_edge_frame_age_seconds",
            "From a frame's capture to the end of its processing",
            ["camera"],
            buckets=FRAME_BUCKETS,
            registry=self.registry,
        )

    def decided(self, method: str, outcome: str) -> None:
        self.decisions.labels(method, outcome).inc()

    def frame(self, camera: str, seconds: float, age_s: float) -> None:
        self.frame_seconds.labels(camera).observe(seconds)
        self.frame_age_seconds.labels(camera).observe(age_s)

    def watch(self, readings: Readings) -> None:
        self.registry.register(_Collector(readings))

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics; OSError when the port is taken."""
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Collector(Collector):
    def __init__(self, readings: Readings) -> None:
        self._readings = readings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        r = self._readings
        outbox = r.outbox()
        yield _gauge("anju_edge_outbox_rows", "Events not yet confirmed by the hub", outbox.rows)
        yield _gauge(
            "anju_edge_outbox_oldest_age_seconds",
            "Age of the oldest unconfirmed event (0 when none)",
            outbox.oldest_age_s or 0.0,
        )
        yield _gauge("anju_edge_outbox_capacity", "Most unconfirmed events kept", outbox.capacity)
        yield _gauge("anju_edge_outbox_refused", "Events not recorded since start", outbox.refused)
        registry = r.registry()
        yield _gauge("anju_edge_registry_version", "Registry version held", registry.version)
        yield _gauge(
            "anju_edge_registry_age_seconds", "Since the last registry sync", registry.age_s
        )
        clock = r.clock()
        yield _gauge("anju_edge_clock_trusted", "1 when decisions' time is trusted", clock.trusted)
        yield _gauge(
            "anju_edge_clock_offset_seconds",
            "Hub clock minus edge clock (0 before a measurement)",
            clock.offset_s or 0.0,
        )
        up = GaugeMetricFamily(
            "anju_edge_part_up", "1 when the part works", labels=["kind", "name"]
        )
        for part in r.parts():
            up.add_metric([part.kind, part.name], float(part.up))
        yield up
        usage = shutil.disk_usage(r.disk)
        yield _gauge("anju_edge_disk_free_bytes", "Free space where the outbox lives", usage.free)
        yield _gauge("anju_edge_disk_size_bytes", "Size of that disk", usage.total)
        yield _gauge("anju_edge_scraped_at_seconds", "Unix time of this scrape", time.time())


def _gauge(name: str, text: str, value: float | bool | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=float(value or 0))
