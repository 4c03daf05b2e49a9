from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from anju.broker import Mosquitto, mosquitto_available
from anju.compound import Compound
from anju.invariant import Report, Stream, check, hub_rows, outbox_stream
from anju.processes import wait_until
from firmware_mocks.card_reader import Answer, CardReader, Swipe


class Traffic:
    """Swipes registered cards at the entry reader until stopped, as a busy gate would."""

    def __init__(self, compound: Compound, interval_s: float = 0.01) -> None:
        self._compound = compound
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.answers: list[Answer] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "a swipe never got an answer"

    def _run(self) -> None:
        reader = CardReader("127.0.0.1", self._compound.reader_ports["in"])
        card = 0
        while not self._stop.is_set():
            self.answers.append(reader.present(Swipe(1001 + card % 3), give_up_after_s=90))
            card += 1
            self._stop.wait(self._interval_s)
        reader.close()

    def wait_for(self, count: int, timeout_s: float = 60) -> None:
        wait_until(lambda: len(self.answers) >= count, timeout_s, f"{count} answered swipes")


def settle(compound: Compound, timeout_s: float = 90) -> Stream:
    """Wait until the edge's outbox is empty; the stream it generated."""
    wait_until(lambda: outbox_stream(compound.outbox_path)[1] == 0, timeout_s, "an empty outbox")
    return outbox_stream(compound.outbox_path)[0]


def verdict(compound: Compound, streams: list[Stream]) -> Report:
    report = check(streams, hub_rows(compound.database_url))
    assert report.ok, report.problems
    return report


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of this test's own, so that the test may stop and restart it."""
    if not mosquitto_available():
        pytest.skip("fault tests need a mosquitto binary to stop and restart")
    broker = Mosquitto(tmp_path / "broker", max_queued_messages=50).start()
    yield broker
    broker.stop()


@pytest.fixture
def compound(tmp_path: Path, broker: Mosquitto, topic_prefix: str) -> Iterator[Compound]:
    compound = Compound(tmp_path, broker.url, topic_prefix=topic_prefix, resend_after_s=2.0)
    compound.prepare()
    compound.start_hub()
    compound.start_edge()
    yield compound
    compound.stop()
