"""The face benchmark's code path on a few fixtures (it proves it runs, not how well)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import faces


def test_bench_faces_runs_and_writes_its_keys(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "faces.json"
    args = ["--fixtures", str(fixtures_dir / "faces"), "--limit", "8", "--json", str(out)]
    assert faces.main(args) == 0
    results = json.loads(out.read_text())
    for key in ("new_face_p50_ms", "tracked_frame_p50_ms", "baseline_median_ms", "match_ms_100k"):
        assert results[key] > 0
    for key in ("fnir", "fpir", "fta", "face_alone_share", "gallery_fpir_bound"):
        assert 0 <= results[key] <= 1
    assert results["still_replay_grants"] == 0
    assert results["video_time_to_grant_ms"] is not None
    assert isinstance(results["dlib_blas"], bool)
    assert results["engine"] == "dlib"
    assert results["fpir_ci"][0] <= results["fpir"] <= results["fpir_ci"][1]
