"""A simulated day at CI size through the whole compound (reader and ANPR mocks, the edge, a
real Mosquitto, the hub), compared with its ground truth; bench.scenario runs the full day."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from firmware_mocks.scenario import CI_SIZE, ZONE, generate
from harness.scenario import run

pytestmark = pytest.mark.e2e


def test_a_simulated_day_comes_out_exact(tmp_path: Path, broker_url: str) -> None:
    plan = generate(CI_SIZE, day=datetime.now(ZONE).date() - timedelta(days=2))
    report = run(plan, tmp_path, broker_url, lambda _: None)
    assert report.unexpected_answers == []
    assert report.events_stored == report.events_expected
    assert report.offline_events_late == report.offline_events > 0, "the offline hour arrived late"
    assert report.hourly_errors == [0] * 25
    assert report.found_anomalies == report.planted_anomalies == 7, report.missed
    assert report.false_anomalies == 0, report.false
