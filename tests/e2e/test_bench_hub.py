"""The hub query benchmark's code path at a tiny size (it proves it runs, not how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "bench.hub",
        "--rows-sqlite",
        "2000",
        "--rows-postgres",
        "0",
        "--queries",
        "30",
        "--warmup",
        "5",
        "--work-dir",
        str(tmp_path / "work"),
        "--json",
        str(out),
    ]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_bench_hub_runs_and_writes_its_keys(tmp_path: Path) -> None:
    out = tmp_path / "hub.json"
    done = run_bench(tmp_path, out)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert 0 < results["query_p50_ms_1m"] <= results["query_p95_ms_1m"] < 10_000
    assert results["query_p95_ms_10m"] is None
    assert results["postgresql"] is None
    assert results["rows_sqlite"] == 2000
    assert results["load_s_sqlite"] >= 0
    sqlite = results["sqlite"]
    assert "entry_time(occurred_at, event_id)" in sqlite["indexes"]
    kinds = sqlite["kinds"]
    first_pages = sum(stats["count"] for kind, stats in kinds.items() if "/" not in kind)
    assert first_pages == 30
    assert sqlite["overall"]["count"] == sum(stats["count"] for stats in kinds.values())
    assert kinds["newest"]["rows_mean"] == 50  # the rows are there, in the hub's formats


def test_bench_hub_reuses_its_rows(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert run_bench(tmp_path, first).returncode == 0
    assert run_bench(tmp_path, second).returncode == 0
    assert json.loads(first.read_text())["load_s_sqlite"] is not None
    assert json.loads(second.read_text())["load_s_sqlite"] is None
