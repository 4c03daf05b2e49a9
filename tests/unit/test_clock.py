from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from edge.clock import EdgeClock


def test_an_edge_without_a_hub_trusts_its_own_clock() -> None:
    reading = EdgeClock(reference=False, max_offset_s=5, max_age_s=60).read()
    assert reading.trusted and reading.offset_s is None


def test_until_measured_the_clock_is_not_trusted() -> None:
    assert not EdgeClock(reference=True, max_offset_s=5, max_age_s=60).read().trusted


def test_the_offset_corrects_the_time_and_half_the_round_trip_is_allowed_for() -> None:
    clock = EdgeClock(reference=True, max_offset_s=5, max_age_s=60)
    sent = time.time()
    hub_time = datetime.fromtimestamp(sent + 0.1 + 120.0, UTC)  # 0.2 s round trip, hub +120 s
    assert clock.record(sent, hub_time, sent + 0.2) is True  # beyond 5 s: alarm
    reading = clock.read()
    assert reading.trusted
    assert reading.offset_s is not None and abs(reading.offset_s - 120.0) < 1e-6
    assert abs(reading.now - datetime.now(UTC) - timedelta(seconds=120)) < timedelta(seconds=1)


def test_a_small_offset_is_no_alarm() -> None:
    clock = EdgeClock(reference=True, max_offset_s=5, max_age_s=60)
    sent = time.time()
    assert clock.record(sent, datetime.fromtimestamp(sent + 1.5, UTC), sent) is False


def test_an_old_measurement_is_no_longer_trusted() -> None:
    clock = EdgeClock(reference=True, max_offset_s=5, max_age_s=0.05)
    sent = time.time()
    clock.record(sent, datetime.fromtimestamp(sent, UTC), sent)
    assert clock.read().trusted
    time.sleep(0.1)
    assert not clock.read().trusted
