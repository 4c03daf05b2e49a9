"""schemathesis against the hub's OpenAPI at a size that runs in CI (bench.api_fuzz runs more)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import api_fuzz

pytestmark = pytest.mark.e2e


def test_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    out = tmp_path / "fuzz.json"
    api_fuzz.main(["--examples", "4", "--json", str(out)])
    results = json.loads(out.read_text())
    assert results["operations"] >= 50 and results["requests"] >= 300  # two roles
    assert set(results["by_role"]) == {"admin", "resident"}
    assert results["first_server_errors"] == []
    assert results["first_schema_violations"] == []
