"""The decision benchmark's code path at a small size (it proves it runs, not how fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import decide
from harness.broker import mosquitto_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not mosquitto_available(), reason="the benchmark starts its own Mosquitto"),
]


def test_bench_decide_runs_and_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "decide.json"
    assert decide.main(["--reads", "20", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert (results["reads"], results["card_reads"], results["qr_reads"]) == (20, 10, 10)
    assert 0 < results["decide_p50_ms"] <= results["decide_p95_ms"]
    assert results["relay_only_p95_ms"] > 0
