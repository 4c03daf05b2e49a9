"""Whole compounds as separate processes: card-reader mock → edge → Mosquitto → hub."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from anju.compound import Compound
from anju.processes import wait_until
from firmware_mocks.card_reader import Answer, CardReader, Swipe

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def compound(tmp_path: Path, broker_url: str, topic_prefix: str) -> Iterator[Compound]:
    compound = Compound(tmp_path, broker_url, topic_prefix=topic_prefix, resend_after_s=2.0)
    compound.prepare()
    compound.start_hub()
    compound.start_edge()
    yield compound
    compound.stop()


def _outbox_state(path: Path) -> tuple[int, int]:
    """(events generated in this epoch, events not yet confirmed), read from the edge's disk."""
    with sqlite3.connect(path) as conn:
        (next_seq,) = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        (pending,) = conn.execute("SELECT count(*) FROM outbox").fetchone()
    return int(next_seq) - 1, int(pending)


def test_kill_9_of_the_edge_mid_stream_loses_and_doubles_nothing(compound: Compound) -> None:
    answers: list[Answer] = []
    cards = [1001 + (i % 3) for i in range(150)]

    def swipe_all() -> None:
        reader = CardReader("127.0.0.1", compound.reader_ports["in"])
        answers.extend(reader.present(Swipe(card), give_up_after_s=90) for card in cards)
        reader.close()

    swiper = threading.Thread(target=swipe_all)
    swiper.start()
    wait_until(lambda: len(compound.all_entries()) >= 30, 60, "the first 30 entries at the hub")
    assert compound.edge is not None
    compound.edge.kill()
    killed_with = len(compound.all_entries())
    compound.start_edge()
    swiper.join(timeout=120)
    assert not swiper.is_alive()

    wait_until(lambda: _outbox_state(compound.outbox_path)[1] == 0, 60, "an empty outbox")
    generated, _ = _outbox_state(compound.outbox_path)
    entries = compound.all_entries()
    assert killed_with < len(cards), "the edge was killed after the stream ended"
    assert len({e["event_id"] for e in entries}) == len(entries)
    assert sorted(int(e["seq"]) for e in entries) == list(range(1, generated + 1))
    assert {e["epoch"] for e in entries} == {entries[0]["epoch"]}
    # Every swipe that was answered is an event; a swipe committed but not answered before the
    # kill is presented again, so at most one extra event.
    assert len(answers) == len(cards)
    assert all(a.result == "granted" for a in answers)
    assert len(cards) <= generated <= len(cards) + 1


def test_the_edge_reports_online_and_its_will_reports_offline(compound: Compound) -> None:
    def edge_online() -> bool | None:
        edges = compound.get("/api/edges").json()
        return edges[0]["online"] if edges and edges[0]["status_at"] else None

    wait_until(lambda: edge_online() is True, 30, "the edge's online status")
    assert compound.edge is not None
    compound.edge.kill()
    wait_until(lambda: edge_online() is False, 30, "the Last Will")


def test_demo_runs_with_the_embedded_broker(tmp_path: Path) -> None:
    """What a newcomer without Mosquitto gets from `make demo` (without waiting for Ctrl-C)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "anju.demo",
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
    assert "(embedded" not in result.stdout or "broker" in result.stdout
    assert "Stored by the hub (7 entry events)" in result.stdout
    assert "Inside now: resident 2, visitor 1, staff 1 (total 4)" in result.stdout
    assert result.stdout.count("→ granted") == 6
    assert result.stdout.count("→ denied") == 1
