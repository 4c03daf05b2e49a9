"""The events benchmark's code path, at a size that proves it runs (not how fast it is)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import events
from harness.broker import mosquitto_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not mosquitto_available(), reason="the benchmark starts its own Mosquitto"),
]


def test_bench_events_runs_and_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "events.json"
    code = events.main(
        [
            "--duration",
            "3",
            "--latency-duration",
            "2",
            "--backlog",
            "300",
            "--max-rate",
            "1000",
            "--json",
            str(out),
        ]
    )
    results = json.loads(out.read_text())
    assert code == 0
    for key in ("events_per_s", "commit_p95_ms", "backlog_drain_s_100k", "lost", "duplicates"):
        assert key in results
    assert results["lost"] == 0
    assert results["duplicates"] == 0
    assert results["events_per_s"] > 0
    assert results["events_checked"] > 300
