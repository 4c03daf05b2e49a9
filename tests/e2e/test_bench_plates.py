"""The plate benchmark's code path on a few fixtures (it proves it runs, not how well)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import plates


def test_bench_plates_runs_and_writes_its_keys(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plates.json"
    args = ["--fixtures", str(fixtures_dir / "plates"), "--limit", "6", "--json", str(out)]
    assert plates.main(args) == 0
    results = json.loads(out.read_text())
    for key in (
        "scene_exact",
        "scene_exact_as_labelled",
        "crop_exact",
        "invalid_emitted",
        "baseline_scene_exact",
        "labelled_boxes_scene_exact",
        "rapidocr_reader_scene_exact",
        "plate_models_alone_scene_exact",
    ):
        assert 0 <= results[key] <= 1
    assert results["scene_median_ms"] > 0 and results["baseline_scene_median_ms"] > 0
    assert results["scene_time_vs_baseline"] > 0 and results["rapidocr_reader_scene_median_ms"] > 0
    assert (results["scenes"], results["crops"]) == (6, 6)


def test_a_label_the_photo_contradicts_is_mended_and_kept(fixtures_dir: Path) -> None:
    scenes, _ = plates.load_manifest(fixtures_dir / "plates")
    by_path = {str(s.path.relative_to(fixtures_dir / "plates")): s for s in scenes}
    for path, (label, shown) in plates.LABEL_ERRORS.items():
        scene = by_path[path]
        assert label in scene.labelled and label not in scene.truth
        assert shown in scene.truth and shown in {box.plate for box in scene.boxes}
    untouched = [s for p, s in by_path.items() if p not in plates.LABEL_ERRORS]
    assert all(s.truth == s.labelled for s in untouched)
