"""Traffic at a gate: registered cards swiped at the entry reader (through the reader mock,
over its protocol) until stopped, as at a busy gate; and the wait for an edge's outbox to
empty. Fault tests and the chaos run drive their compound with it."""

from __future__ import annotations

import threading

from firmware_mocks.card_reader import Answer, CardReader, Swipe
from harness.compound import Compound
from harness.invariant import Stream, outbox_stream
from harness.processes import wait_until


class Traffic:
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
        if self._thread.is_alive():
            raise RuntimeError("a swipe never got an answer")

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
