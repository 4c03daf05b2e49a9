from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.broker import Mosquitto, mosquitto_available
from harness.compound import Compound
from harness.invariant import Report, Stream, check, hub_rows
from harness.traffic import Traffic, settle

__all__ = ["Traffic", "settle", "verdict"]


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
def compound(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, hub_sqlite: Path
) -> Iterator[Compound]:
    with Compound(tmp_path, broker.url, topic_prefix=topic_prefix, resend_after_s=2.0) as compound:
        compound.start_hub(wait=False)  # it starts while the hub commands run
        compound.prepare()
        compound.wait_hub()
        compound.start_edge()
        yield compound
