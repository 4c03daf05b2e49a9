"""From a card or QR read at the mock reader to the relay command at the mock barrier.

A whole compound runs as processes (Mosquitto, hub, edge, barrier controller); the reader mock
presents registered cards and visitor-pass QR codes one after another at the east door, and
each read's time (when the converter forwards the frame; the Wiegand wire time before that,
about 80 ms for 26 bits, is the same for every controller) is matched to the relay command it
caused, as logged by the barrier controller (both on the machine's monotonic clock, which
processes share). A QR entry is
counted at the hub over HTTP before the gate opens, so its path is the longer one. As a
floor, measured in the same run: a relay command sent straight to the controller over
Modbus-TCP (`relay_only_p95_ms`).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Row, base_parser, machine, number, percentile, print_table, write_json
from edge.modbus import ModbusClient
from firmware_mocks.card_reader import CardReader, Swipe
from harness.broker import Mosquitto
from harness.compound import Compound

DOOR = 0
CARDS = (1001, 1002, 1003)
ENTRIES_PER_PASS = 100  # the most a pass may have


def make_passes(compound: Compound, count: int) -> list[str]:
    now = datetime.now(UTC)
    tokens = []
    for index in range(count):
        body = {
            "id": f"bench-pass-{index}",
            "unit_id": "b1-101",
            "visitor_name": "访客",
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_until": (now + timedelta(hours=6)).isoformat(),
            "max_entries": ENTRIES_PER_PASS,
        }
        tokens.append(compound.request("POST", "/api/passes", json=body).json()["token"])
    return tokens


def read_latencies(
    compound: Compound, reads: int, tokens: list[str]
) -> tuple[list[float], list[float]]:
    """Alternate card and QR reads; the milliseconds from each read to its relay command."""
    assert compound.barrier is not None
    reader = CardReader("127.0.0.1", compound.reader_ports["in"])
    sent: list[tuple[str, float]] = []
    qr_uses = 0
    try:
        for i in range(reads):
            use_qr = i % 2 == 1 and qr_uses < len(tokens) * ENTRIES_PER_PASS
            start = time.monotonic()
            if use_qr:
                answer = reader.show_qr(tokens[qr_uses // ENTRIES_PER_PASS])
                qr_uses += 1
            else:
                answer = reader.present(Swipe(CARDS[i % len(CARDS)])).result
            if answer != "granted":
                raise RuntimeError(f"read {i} was {answer}")
            sent.append(("qr" if use_qr else "card", start))
    finally:
        reader.close()
    commands = [
        c["t"] for c in compound.barrier.world.relay_log() if c["channel"] == DOOR and c["on"]
    ]
    card_ms, qr_ms = [], []
    for kind, start in sent:
        relay = next(t for t in commands if t >= start)
        (qr_ms if kind == "qr" else card_ms).append((relay - start) * 1000)
    return card_ms, qr_ms


def relay_only(compound: Compound, count: int) -> list[float]:
    """The floor: one Modbus coil write, as the edge's driver sends it."""
    client = ModbusClient("127.0.0.1", compound.barrier_ports["modbus"], unit=1, timeout_s=2)
    latencies = []
    for _ in range(count):
        start = time.monotonic()
        client.write_coil(DOOR, True)
        latencies.append((time.monotonic() - start) * 1000)
    client.close()
    return latencies


def run(reads: int, workdir: Path) -> dict[str, object]:
    broker = Mosquitto(workdir / "broker").start()
    compound = Compound(workdir, broker.url, compound_id="bench", with_gates=True)
    try:
        compound.prepare()
        compound.start_barrier()
        compound.start_hub()
        compound.start_edge()
        tokens = make_passes(compound, -(-reads // 2 // ENTRIES_PER_PASS))
        time.sleep(2)  # the passes reach the edge (they would verify anyway: issued after sync)
        card_ms, qr_ms = read_latencies(compound, reads, tokens)
        floor = relay_only(compound, 200)
    finally:
        compound.stop()
        broker.stop()
    every = card_ms + qr_ms
    return {
        "decide_p95_ms": round(percentile(every, 95), 1),
        "decide_p50_ms": round(percentile(every, 50), 1),
        "card_p95_ms": round(percentile(card_ms, 95), 1),
        "qr_p95_ms": round(percentile(qr_ms, 95), 1),
        "relay_only_p95_ms": round(percentile(floor, 95), 2),
        "reads": len(every),
        "card_reads": len(card_ms),
        "qr_reads": len(qr_ms),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.decide", __doc__)
    parser.add_argument("--reads", type=int, default=1000, help="card and QR reads, alternating")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="anju-bench-") as tmp:
        results = run(args.reads, Path(tmp))
    p95 = number(results, "decide_p95_ms")
    rows = [
        Row("decide_p50_ms", number(results, "decide_p50_ms"), "ms"),
        Row("decide_p95_ms", p95, "ms", "<= 50", p95 <= 50),
        Row("card_p95_ms", number(results, "card_p95_ms"), "ms"),
        Row("qr_p95_ms", number(results, "qr_p95_ms"), "ms"),
        Row("relay_only_p95_ms", number(results, "relay_only_p95_ms"), "ms"),
    ]
    print_table(f"bench.decide, {results['reads']:,} reads at the mock reader", rows)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
