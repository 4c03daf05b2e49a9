"""The registry benchmark's code path at a small size (it proves it runs, not how fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import registry
from harness.broker import mosquitto_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not mosquitto_available(), reason="the benchmark starts its own Mosquitto"),
]


def test_bench_registry_runs_and_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "registry.json"
    assert registry.main(["--residents", "300", "--revocations", "2", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["residents"] == 300
    assert results["revocations"] == 2
    assert 0 < results["revoke_p95_ms"] < 60_000
    assert results["import_s"] > 0
    assert results["full_sync_s"] > 0
