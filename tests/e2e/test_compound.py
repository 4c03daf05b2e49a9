"""Whole compounds as separate processes: card-reader mock → edge → Mosquitto → hub."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from firmware_mocks.card_reader import CardReader, Swipe
from harness.compound import Compound
from harness.processes import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def compound(
    tmp_path: Path, broker_url: str, topic_prefix: str, hub_sqlite: Path
) -> Iterator[Compound]:
    with Compound(tmp_path, broker_url, topic_prefix=topic_prefix, resend_after_s=2.0) as compound:
        compound.start_hub(wait=False)  # it starts while the hub commands run
        compound.prepare()
        compound.wait_hub()
        compound.start_edge()
        yield compound


def test_the_edge_reports_online_and_its_will_reports_offline(compound: Compound) -> None:
    def edge_online() -> bool | None:
        edges = compound.get("/api/edges").json()
        return edges[0]["online"] if edges and edges[0]["status_at"] else None

    wait_until(lambda: edge_online() is True, 30, "the edge's online status")
    assert compound.edge is not None
    compound.edge.kill()
    wait_until(lambda: edge_online() is False, 30, "the Last Will")


def metric(text: str, name: str) -> float:
    """One sample's value from a Prometheus text page (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_edge_and_hub_metrics_count_a_decision_and_its_delivery(compound: Compound) -> None:
    reader = CardReader("127.0.0.1", compound.reader_ports["in"])
    assert reader.present(Swipe(1001)).result == "granted"
    assert reader.present(Swipe(4242)).result == "denied"
    reader.close()
    edge_url = f"http://127.0.0.1:{compound.metrics_port}/metrics"
    at_edge = httpx.get(edge_url, timeout=5).text
    assert metric(at_edge, 'anju_edge_decisions_total{method="card",outcome="granted"}') == 1
    assert metric(at_edge, 'anju_edge_decisions_total{method="card",outcome="denied"}') == 1
    assert metric(at_edge, "anju_edge_disk_free_bytes") > 0
    assert metric(at_edge, "anju_edge_clock_trusted") == 1

    def at_hub() -> str:
        return httpx.get(f"{compound.hub_url}/metrics", timeout=5).text

    granted = 'anju_hub_events_stored_total{kind="entry",outcome="granted"}'
    wait_until(lambda: metric(at_hub(), granted) == 1, 30, "the hub to count the entry")
    wait_until(
        lambda: (
            metric(at_hub(), 'anju_hub_edge_online{compound="anju-demo",edge="gate-east"}') == 1
        ),
        30,
        "the edge's status in the hub's metrics",
    )
    assert metric(at_hub(), "anju_hub_mqtt_connected") == 1
    assert "p-wang-fang" not in at_hub() + at_edge, "no personal data in metrics"


def test_demo_runs_with_the_embedded_broker(tmp_path: Path) -> None:
    """What a newcomer without Mosquitto gets from `make demo` (without waiting for Ctrl-C)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.demo",
            "--broker",
            "embedded",
            "--no-wait",
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(embedded-broker)" in result.stdout.splitlines()[0]
    assert "Stored by the hub (12 entry events)" in result.stdout
    # 王芳 walked out, then drove in: her car is inside, she is not (docs/hub.md)
    assert "Inside now: resident 2, visitor 2, staff 1 (total 5); vehicles 1" in result.stdout
    assert result.stdout.count("→ granted") == 8  # 6 cards, 1 QR pass, 1 car
    assert result.stdout.count("→ denied") == 3  # an unknown card, a used-up pass, a van
    assert "→ granted/granted/granted" in result.stdout  # a resident's car, pushed 3 times
    assert "→ denied/denied/denied" in result.stdout  # an unknown van
    assert "Relay commands at the barrier controller: east door 7, car barrier 2" in result.stdout
    assert "Opened by the guard" in result.stdout
