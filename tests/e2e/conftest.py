from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from anju.broker import Mosquitto, mosquitto_available
from anju.compound import Compound
from anju.invariant import Report, Stream, check, hub_rows
from anju.traffic import Traffic, settle

__all__ = ["Traffic", "settle", "verdict"]

# Tests that take minutes by nature, run by `make test-slow` (which .ci/run runs too), not by
# `make test`: the benchmarks' smoke runs (each lays out its own processes and measures), the
# runs of faults in a row, and the simulated day with its offline hour. Move a test here
# rather than let `make test` outgrow its budget (README, "The test budget").
SLOW_MODULES = {
    "test_bench_api_fuzz",
    "test_bench_decide",
    "test_bench_district",
    "test_bench_events",
    "test_bench_faces",
    "test_bench_hub",
    "test_bench_plates",
    "test_bench_registry",
    "test_chaos",
    "test_faults",
    "test_scenario",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


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
        compound.prepare()
        compound.start_hub()
        compound.start_edge()
        yield compound
