"""`python -m bench.district --json FILE`: a district hub on PostgreSQL taking the events of
500 edges (50 compounds of 10) through a real Mosquitto.

The edges' events are signed beforehand, each by its own edge's key and at its own position,
and replayed by a few publisher clients (one MQTT connection each, so that the load generator
is not what is measured), each keeping at most `--window` events unconfirmed and re-sending
what stays unconfirmed, as edges do. The hub is the real one (`python -m hub serve`, its own
process) on a fresh PostgreSQL database. Keys: `edges`, `events_per_s` (confirmed a second
over `--seconds`, 60), `commit_p95_ms` (publish to the hub's confirmation, which follows its
commit), `lost`, `duplicates`. Targets: events_per_s >= 2,000, commit_p95_ms <= 1,000.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from anju.mqtt import BrokerAddress, LinkDown, Message, MqttLink
from bench.common import Row, base_parser, machine, number, percentile, print_table, write_json
from bench.events import make_event, register
from harness.broker import Mosquitto
from harness.invariant import Stream, check, hub_rows
from harness.processes import free_port, python_module, wait_until
from models.events import Confirmation, Position
from models.signing import generate_key, seal
from models.topics import Topics

TOPICS = Topics("anju")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class SimEdge:
    edge_id: str
    compound_id: str
    key: object = field(default_factory=generate_key)
    epoch: uuid.UUID = field(default_factory=uuid.uuid4)
    payloads: list[tuple[uuid.UUID, bytes]] = field(default_factory=list)
    published: int = 0

    def presign(self, count: int) -> None:
        for n in range(len(self.payloads), len(self.payloads) + count):
            position = Position(edge_id=self.edge_id, epoch=self.epoch, seq=n + 1)
            event = make_event(position, n).model_copy(update={"compound_id": self.compound_id})
            self.payloads.append((event.event_id, seal(event, self.key)))  # type: ignore[arg-type]

    def stream(self) -> Stream:
        return Stream(self.edge_id, str(self.epoch), self.published)


class Publisher:
    """One MQTT client replaying many edges' events, round robin, within a window."""

    def __init__(self, name: str, broker_url: str, edges: list[SimEdge], window: int) -> None:
        self.edges = edges
        self._slots = threading.Semaphore(window)
        self._lock = threading.Lock()
        self.sent: dict[uuid.UUID, tuple[float, str, bytes]] = {}
        self.latencies: list[tuple[float, float]] = []  # (confirmed at, ms)
        self.link_down = 0  # publishes refused while the link was down
        self.link = MqttLink(BrokerAddress.from_url(broker_url), client_id=f"bench-{name}")
        self.link.subscribe("anju/+/edge/+/confirm", self._on_confirm)

    def start(self) -> None:
        self.link.start()
        if not self.link.wait_connected(30):
            raise RuntimeError("a publisher could not connect")

    def pump(self, stop: threading.Event, rate: float) -> None:
        """Round robin over the edges, at `rate` events a second (0: as the window allows)."""
        interval = 1.0 / rate if rate > 0 else 0.0
        next_at = time.monotonic()
        while not stop.is_set():
            sent_any = False
            for edge in self.edges:
                if stop.is_set() or edge.published >= len(edge.payloads):
                    continue
                next_at += interval
                if (ahead := next_at - time.monotonic()) > 0.001:
                    time.sleep(ahead)
                while not self._slots.acquire(timeout=5):
                    self._resend_overdue(30)
                event_id, payload = edge.payloads[edge.published]
                topic = TOPICS.events(edge.compound_id, edge.edge_id)
                with self._lock:
                    self.sent[event_id] = (time.monotonic(), topic, payload)
                self._send(topic, payload)
                edge.published += 1
                sent_any = True
            if not sent_any:
                return

    def unconfirmed(self) -> int:
        with self._lock:
            return len(self.sent)

    def _on_confirm(self, topic: str, payload: bytes) -> None:
        now = time.monotonic()
        confirmation = Confirmation.model_validate_json(payload)
        with self._lock:
            for event_id in confirmation.event_ids:
                sent = self.sent.pop(event_id, None)
                if sent is not None:
                    self.latencies.append((now, (now - sent[0]) * 1000))
                    self._slots.release()

    def _resend_overdue(self, after_s: float) -> None:
        cutoff = time.monotonic() - after_s
        with self._lock:
            overdue = [item for item in self.sent.values() if item[0] < cutoff]
        for _, topic, payload in overdue:
            self._send(topic, payload)

    def _send(self, topic: str, payload: bytes) -> None:
        try:
            self.link.publish(Message(topic, payload))
        except LinkDown:  # still in `sent`: re-sent once overdue, as an edge would
            self.link_down += 1


def fresh_database(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@dataclass(frozen=True)
class Settings:
    compounds: int
    edges_per_compound: int
    publishers: int
    window: int
    seconds: float
    rate: float
    postgres_url: str


def measure(settings: Settings, workdir: Path) -> dict[str, object]:
    edges = [
        SimEdge(f"c{c:03d}-e{e:02d}", f"c{c:03d}")
        for c in range(settings.compounds)
        for e in range(settings.edges_per_compound)
    ]
    offered = settings.rate or 6000.0
    per_edge = int(offered * (settings.seconds + 15) / len(edges)) + 1
    print(f"pre-signing {per_edge * len(edges):,} events of {len(edges)} edges…", flush=True)
    for edge in edges:
        edge.presign(per_edge)
    database_url = fresh_database(settings.postgres_url, "anju_bench_district")
    register(database_url, [(e.edge_id, e.compound_id, e.key) for e in edges])
    broker = Mosquitto(workdir / "broker", max_queued_messages=100_000).start()
    port = free_port()
    hub = python_module(
        "hub",
        "hub",
        ["serve"],
        workdir,
        ANJU_HUB_DATABASE_URL=database_url,
        ANJU_HUB_MQTT_URL=broker.url,
        ANJU_HUB_PORT=str(port),
        ANJU_HUB_CLIENT_ID="district-hub",
    ).start()
    groups = [edges[i :: settings.publishers] for i in range(settings.publishers)]
    publishers = [
        Publisher(f"p{i}", broker.url, group, settings.window) for i, group in enumerate(groups)
    ]
    try:
        wait_until(lambda: _hub_up(port), 60, "the district hub")
        for publisher in publishers:
            publisher.start()
        rate, latencies = _run(publishers, settings.seconds, settings.rate)
        exhausted = all(e.published == len(e.payloads) for e in edges)
        for publisher in publishers:
            wait_until(lambda p=publisher: p.unconfirmed() == 0, 180, "the last confirmations")
        report = check([e.stream() for e in edges], hub_rows(database_url))
    finally:
        for publisher in publishers:
            publisher.link.stop()
        hub.stop()
        broker.stop()
    return {
        "edges": len(edges),
        "compounds": settings.compounds,
        "publishers": settings.publishers,
        "offered_per_s": settings.rate,
        "events_per_s": round(rate, 1),
        "commit_p95_ms": round(percentile(latencies, 95), 1),
        "commit_p50_ms": round(percentile(latencies, 50), 1),
        "events_checked": report.generated,
        "load_exhausted": exhausted,
        "lost": report.lost,
        "duplicates": report.duplicates,
        "publishes_while_link_down": sum(p.link_down for p in publishers),
        "seconds": settings.seconds,
        "database": "postgresql",
        "machine": machine(),
    }


def _run(publishers: list[Publisher], seconds: float, rate: float) -> tuple[float, list[float]]:
    """Confirmed events a second over `seconds`, after a 10 s warm-up, and their latencies."""
    stop = threading.Event()
    each = rate / len(publishers)
    threads = [threading.Thread(target=p.pump, args=(stop, each), daemon=True) for p in publishers]
    for thread in threads:
        thread.start()
    time.sleep(10)
    start = time.monotonic()
    time.sleep(seconds)
    end = time.monotonic()
    stop.set()
    for thread in threads:
        thread.join()
    window = [ms for p in publishers for at, ms in p.latencies if start <= at < end]
    return len(window) / (end - start), window


def _hub_up(port: int) -> bool:
    try:
        return (
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["mqtt"] == "connected"
        )
    except (httpx.HTTPError, ValueError, KeyError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.district", __doc__)
    parser.add_argument("--compounds", type=int, default=50)
    parser.add_argument("--edges-per-compound", type=int, default=10)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument(
        "--window", type=int, default=250, help="unconfirmed a publisher (the district: 1,000)"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--rate", type=float, default=2400.0, help="events offered a second (0: no pacing)"
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("ANJU_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args(argv)
    settings = Settings(
        args.compounds,
        args.edges_per_compound,
        args.publishers,
        args.window,
        args.seconds,
        args.rate,
        args.postgres_url,
    )
    with tempfile.TemporaryDirectory(prefix="anju-district-") as tmp:
        results = measure(settings, Path(tmp))
    rate, p95 = number(results, "events_per_s"), number(results, "commit_p95_ms")
    lost, duplicates = int(number(results, "lost")), int(number(results, "duplicates"))
    print_table(
        f"bench.district: {results['edges']} edges in {results['compounds']} compounds, PostgreSQL",
        [
            Row("events_per_s", rate, "ev/s", ">= 2,000", rate >= 2000),
            Row("commit_p95_ms", p95, "ms", "<= 1,000", p95 <= 1000),
            Row("lost", lost, "events", "0", lost == 0),
            Row("duplicates", duplicates, "events", "0", duplicates == 0),
        ],
    )
    write_json(args.json, results)
    return 0 if lost == duplicates == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
