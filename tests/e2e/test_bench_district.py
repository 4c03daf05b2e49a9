"""bench.district's code path at a size that runs in CI: a hub process on PostgreSQL taking
pre-signed events of 20 edges in 5 compounds through Mosquitto, nothing lost or doubled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import district
from harness.broker import mosquitto_available
from tests.conftest import _missing, _postgres_admin_url

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not mosquitto_available(), reason="the benchmark starts its own Mosquitto"),
]


def test_bench_district_runs_and_writes_its_keys(tmp_path: Path) -> None:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        _missing("PostgreSQL (set ANJU_TEST_POSTGRES_URL)")
    out = tmp_path / "district.json"
    arguments = ["--compounds", "5", "--edges-per-compound", "4", "--seconds", "3"]
    arguments += ["--rate", "300", "--postgres-url", str(admin_url), "--json", str(out)]
    assert district.main(arguments) == 0
    results = json.loads(out.read_text())
    assert results["edges"] == 20
    assert results["events_per_s"] > 100 and results["commit_p95_ms"] > 0
    assert (results["lost"], results["duplicates"]) == (0, 0)
    assert results["events_checked"] >= 900
