"""`python -m bench.events --json FILE`: the event path's speed, through a real Mosquitto.

Phases, all against one hub process (SQLite by default, `--database-url` for PostgreSQL):

1. broker only: QoS 1 messages through Mosquitto to one subscriber, no hub (the ceiling);
2. throughput: pre-signed events from a few simulated edges, as fast as the hub confirms them,
   each edge keeping at most `--window` unconfirmed (as a real edge does) → `events_per_s`;
3. latency: one edge at a steady 50 events/s; publish to confirmation → `commit_p95_ms`
   (the confirmation is sent after the commit, so this bounds publish-to-commit from above);
4. backlog: a real edge daemon whose outbox holds `--backlog` events reconnects to a broker
   that was down → `backlog_drain_s_100k`, until the outbox is empty;
5. the invariant over everything published: `lost`, `duplicates`.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from anju.mqtt import BrokerAddress, LinkDown, Message, MqttLink
from bench.common import (
    Row,
    base_parser,
    machine,
    number,
    percentile,
    print_table,
    write_json,
)
from edge.outbox import Outbox
from harness.broker import Mosquitto
from harness.compound import Compound
from harness.invariant import Report, Stream, check, hub_rows, outbox_stream
from harness.processes import wait_until
from hub import crud
from hub.core.db import make_engine, migrate
from models.events import (
    Confirmation,
    Credential,
    Decision,
    Direction,
    EntryEvent,
    Method,
    Outcome,
    Position,
    Subject,
    SubjectKind,
)
from models.signing import generate_key, load_private_key, public_key_pem, seal
from models.topics import Topics

COMPOUND = "bench"
TOPICS = Topics("anju")


def make_event(position: Position, n: int) -> EntryEvent:
    return EntryEvent(
        event_id=uuid.uuid4(),
        position=position,
        compound_id=COMPOUND,
        gate_id=f"gate-{n % 4}",
        lane="pedestrian-in",
        direction=Direction.IN if n % 2 else Direction.OUT,
        occurred_at=datetime.now(UTC),
        subject=Subject(kind=SubjectKind.RESIDENT, id=f"p-{n % 5000}"),
        credential=Credential(method=Method.CARD, reference=str(100000 + n % 5000)),
        decision=Decision(outcome=Outcome.GRANTED, reason_code="card_valid", reason="Bench."),
    )


@dataclass
class LoadEdge:
    """A simulated edge replaying pre-signed events, re-sending what stays unconfirmed."""

    edge_id: str
    broker_url: str
    window: int
    key: object = field(default_factory=generate_key)
    epoch: uuid.UUID = field(default_factory=uuid.uuid4)
    payloads: list[tuple[uuid.UUID, bytes]] = field(default_factory=list)
    sent_at: dict[uuid.UUID, float] = field(default_factory=dict)
    confirmed_at: list[tuple[float, float]] = field(default_factory=list)  # (sent, confirmed)
    published: int = 0

    def __post_init__(self) -> None:
        self._slots = threading.Semaphore(self.window)
        self._lock = threading.Lock()
        self.link = MqttLink(
            BrokerAddress.from_url(self.broker_url), client_id=f"bench-{self.edge_id}"
        )
        self.link.subscribe(TOPICS.confirm(COMPOUND, self.edge_id), self._on_confirm)

    def presign(self, count: int) -> None:
        start = len(self.payloads)
        for n in range(start, start + count):
            position = Position(edge_id=self.edge_id, epoch=self.epoch, seq=n + 1)
            event = make_event(position, n)
            self.payloads.append((event.event_id, seal(event, self.key)))  # type: ignore[arg-type]

    def start(self) -> None:
        self.link.start()
        if not self.link.wait_connected(30):
            raise RuntimeError(f"{self.edge_id} could not connect")

    def _on_confirm(self, topic: str, payload: bytes) -> None:
        now = time.monotonic()
        confirmation = Confirmation.model_validate_json(payload)
        with self._lock:
            for event_id in confirmation.event_ids:
                sent = self.sent_at.pop(event_id, None)
                if sent is not None:
                    self.confirmed_at.append((sent, now))
                    self._slots.release()

    def publish_next(self) -> bool:
        """Publish the next pre-signed event once the window allows; False when none is left."""
        if self.published >= len(self.payloads):
            return False
        while not self._slots.acquire(timeout=5):
            self.resend_overdue(30)
        event_id, payload = self.payloads[self.published]
        with self._lock:
            self.sent_at[event_id] = time.monotonic()
        self._publish(payload)
        self.published += 1
        return True

    def resend_overdue(self, after_s: float) -> None:
        cutoff = time.monotonic() - after_s
        with self._lock:
            overdue = [eid for eid, at in self.sent_at.items() if at < cutoff]
        by_id = dict(self.payloads[: self.published])
        for event_id in overdue:
            self._publish(by_id[event_id])

    def _publish(self, payload: bytes) -> None:
        """As an edge's outbox would: keep it until the link takes it."""
        while True:
            try:
                self.link.publish(Message(TOPICS.events(COMPOUND, self.edge_id), payload))
            except LinkDown:
                time.sleep(0.05)
            else:
                return

    def unconfirmed(self) -> int:
        with self._lock:
            return len(self.sent_at)

    def stream(self) -> Stream:
        return Stream(self.edge_id, str(self.epoch), self.published)


def register(database_url: str, edges: Iterable[tuple[str, str, object]]) -> None:
    """Enrol simulated edges, each (edge id, compound id, signing key), with the hub."""
    engine = make_engine(database_url)
    migrate(engine)
    with Session(engine) as session:
        for edge_id, compound_id, key in edges:
            crud.register_edge(
                session=session,
                edge_id=edge_id,
                compound_id=compound_id,
                public_key=public_key_pem(key),  # type: ignore[arg-type]
            )
        session.commit()
    engine.dispose()


def broker_only(broker: Mosquitto, payload: bytes, seconds: float) -> float:
    """QoS 1 messages a second through the broker to one subscriber: the ceiling."""
    got: queue.SimpleQueue[float] = queue.SimpleQueue()
    sink = MqttLink(BrokerAddress.from_url(broker.url), client_id="bench-sink")
    sink.subscribe("bench/only", lambda _t, _p: got.put(time.monotonic()))
    source = MqttLink(BrokerAddress.from_url(broker.url), client_id="bench-source")
    sink.start()
    source.start()
    sink.wait_connected(10)
    source.wait_connected(10)
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        source.publish(Message("bench/only", payload))  # LinkDown: the ceiling is not measured
        sent += 1
        if sent % 500 == 0:
            while sent - got.qsize() > 2000 and time.monotonic() < deadline:
                time.sleep(0.001)
    time.sleep(1)
    received = got.qsize()
    sink.stop()
    source.stop()
    return received / seconds


def throughput(edges: list[LoadEdge], seconds: float) -> float:
    """Confirmed events a second while every edge publishes as fast as its window allows."""
    stop = threading.Event()

    def pump(edge: LoadEdge) -> None:
        while not stop.is_set() and edge.publish_next():
            pass

    before = sum(len(e.confirmed_at) for e in edges)
    threads = [threading.Thread(target=pump, args=(e,), daemon=True) for e in edges]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    confirmed = sum(len(e.confirmed_at) for e in edges) - before
    elapsed = time.monotonic() - start
    stop.set()
    for thread in threads:
        thread.join()
    return confirmed / elapsed


def steady_latency(edge: LoadEdge, rate: float, seconds: float) -> list[float]:
    first = len(edge.confirmed_at)
    interval = 1.0 / rate
    next_at = time.monotonic()
    end = next_at + seconds
    while next_at < end and edge.publish_next():
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    wait_until(lambda: edge.unconfirmed() == 0, 60, "the last confirmations")
    return [(done - sent) * 1000 for sent, done in edge.confirmed_at[first:]]


def fill_outbox(compound: Compound, count: int) -> None:
    key = load_private_key(compound.workdir / "edge" / "signing-key.pem")
    outbox = Outbox.open(compound.outbox_path, edge_id=compound.edge_id, capacity=10_000_000)
    n = iter(range(count))

    def sealer(position: Position) -> tuple[uuid.UUID, bytes]:
        event = make_event(position, next(n)).model_copy(
            update={"compound_id": compound.compound_id}
        )
        return event.event_id, seal(event, key)

    for _ in range(count):
        outbox.append(sealer)
    outbox.close()


def backlog_drain(compound: Compound, broker: Mosquitto, count: int) -> float:
    fill_outbox(compound, count)
    broker.stop()
    compound.start_edge()
    time.sleep(3)
    broker.start()
    start = time.monotonic()
    wait_until(lambda: outbox_stream(compound.outbox_path)[1] == 0, 900, "the backlog to drain")
    return time.monotonic() - start


@dataclass
class Settings:
    duration_s: float
    latency_s: float
    backlog: int
    edges: int
    window: int
    database_url: str | None
    max_rate: float = 6000.0


def run(settings: Settings, workdir: Path) -> tuple[dict[str, object], Report]:
    broker = Mosquitto(workdir / "broker", max_queued_messages=10_000).start()
    compound = Compound(
        workdir,
        broker.url,
        compound_id=COMPOUND,
        edge_id="bench-real-edge",
        database_url=settings.database_url,
    )
    edges = [LoadEdge(f"bench-{i}", broker.url, settings.window) for i in range(settings.edges)]
    steady = LoadEdge("bench-steady", broker.url, settings.window)
    everyone = [*edges, steady]
    try:
        per_edge = int(settings.max_rate * settings.duration_s / settings.edges) + 1
        print(f"pre-signing {per_edge * settings.edges:,} events…", flush=True)
        for edge in edges:
            edge.presign(per_edge)
        steady.presign(int(50 * settings.latency_s) + 10)
        baseline = broker_only(broker, steady.payloads[0][1], min(10.0, settings.duration_s))
        compound.prepare()
        register(compound.database_url, [(e.edge_id, COMPOUND, e.key) for e in everyone])
        compound.start_hub()
        for edge in everyone:
            edge.start()
        print("throughput…", flush=True)
        rate = throughput(edges, settings.duration_s)
        exhausted = all(e.published == len(e.payloads) for e in edges)
        for edge in edges:
            wait_until(lambda e=edge: e.unconfirmed() == 0, 120, "the throughput phase to settle")
        print("latency at 50 events/s…", flush=True)
        latencies = steady_latency(steady, 50, settings.latency_s)
        for edge in everyone:
            edge.link.stop()
        print(f"backlog of {settings.backlog:,}…", flush=True)
        drain_s = backlog_drain(compound, broker, settings.backlog)
        streams = [e.stream() for e in everyone] + [outbox_stream(compound.outbox_path)[0]]
        report = check(streams, hub_rows(compound.database_url))
    finally:
        for edge in everyone:
            edge.link.stop()
        compound.stop()
        broker.stop()
    results: dict[str, object] = {
        "events_per_s": round(rate, 1),
        "load_exhausted": exhausted,
        "commit_p95_ms": round(percentile(latencies, 95), 1),
        "commit_p50_ms": round(percentile(latencies, 50), 1),
        "backlog_drain_s_100k": round(drain_s * 100_000 / settings.backlog, 1),
        "backlog_events": settings.backlog,
        "backlog_drain_s": round(drain_s, 1),
        "lost": report.lost,
        "duplicates": report.duplicates,
        "events_checked": report.generated,
        "broker_only_per_s": round(baseline, 1),
        "database": "postgresql" if settings.database_url else "sqlite",
        "duration_s": settings.duration_s,
        "machine": machine(),
    }
    return results, report


def rows(results: dict[str, object]) -> Iterator[Row]:
    def num(key: str) -> float:
        return number(results, key)

    yield Row("broker_only_per_s", num("broker_only_per_s"), "msg/s", "(ceiling)")
    yield Row("events_per_s", num("events_per_s"), "ev/s", ">= 1,000", num("events_per_s") >= 1000)
    yield Row("commit_p50_ms", num("commit_p50_ms"), "ms")
    yield Row("commit_p95_ms", num("commit_p95_ms"), "ms", "<= 1,000", num("commit_p95_ms") <= 1000)
    drain = num("backlog_drain_s_100k")
    yield Row("backlog_drain_s_100k", drain, "s", "<= 120", drain <= 120)
    yield Row("lost", int(num("lost")), "events", "= 0", num("lost") == 0)
    yield Row("duplicates", int(num("duplicates")), "events", "= 0", num("duplicates") == 0)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.events", __doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="throughput phase, s")
    parser.add_argument("--latency-duration", type=float, default=30.0, help="latency phase, s")
    parser.add_argument("--backlog", type=int, default=100_000, help="events in the backlog")
    parser.add_argument("--edges", type=int, default=4, help="simulated edges")
    parser.add_argument("--window", type=int, default=1000, help="unconfirmed events per edge")
    parser.add_argument("--database-url", help="hub database (default: SQLite in a temp dir)")
    parser.add_argument(
        "--max-rate", type=float, default=6000.0, help="events/s to pre-sign for (the ceiling)"
    )
    args = parser.parse_args(argv)
    settings = Settings(
        args.duration,
        args.latency_duration,
        args.backlog,
        args.edges,
        args.window,
        args.database_url,
        args.max_rate,
    )
    with tempfile.TemporaryDirectory(prefix="anju-bench-") as tmp:
        results, report = run(settings, Path(tmp))
    print_table(
        f"bench.events on {results['database']}, {machine()['cpus']} cpus", list(rows(results))
    )
    for problem in report.problems:
        print(f"  ! {problem}")
    if results["load_exhausted"]:
        print("  ! the pre-signed load ran out: events_per_s is a floor; raise --max-rate")
    write_json(args.json, results)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
