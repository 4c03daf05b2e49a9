"""The plate reader on real photos (skipped without ../shared/fixtures), with the real plate
models (and the general OCR engine beside them), and on the inputs a camera should never
send but sometimes does."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bench.plates import load_image, load_manifest
from edge.decide import PlateEvidence
from edge.images import MAX_PIXELS, ImageError, decode
from edge.plates.clpr import ClprEngine
from edge.plates.engines import text_engine
from edge.plates.lane import PlateLane
from edge.plates.locate import plate_colour
from edge.plates.ocr import RapidOcrEngine, TextRead
from edge.plates.reader import PlateRead, PlateReader
from edge.plates.vote import PlateVoter, Vote
from models.plates import PlateClass


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    """The reader a plate camera gets by default."""
    return PlateReader(text_engine("plate_models"))


def _scene(fixtures_dir: Path, number: str) -> np.ndarray:
    scenes, _ = load_manifest(fixtures_dir / "plates")
    sample = next(s for s in scenes if s.truth == frozenset({number}))
    image = load_image(sample.path)
    assert image is not None
    return image


@pytest.mark.parametrize("number", ["京PC5U22", "川A09X20", "川AA662F"])
def test_scene_photos_are_read_end_to_end(
    reader: PlateReader, fixtures_dir: Path, number: str
) -> None:
    assert [read.number for read in reader.read(_scene(fixtures_dir, number))] == [number]


@pytest.mark.parametrize("number", ["京PC5U22", "皖Q0686学"])
def test_the_general_ocr_engine_reads_scenes_too(fixtures_dir: Path, number: str) -> None:
    """PP-OCR stays usable behind `TextEngine` on its own."""
    general = PlateReader(RapidOcrEngine())
    assert [read.number for read in general.read(_scene(fixtures_dir, number))] == [number]


@pytest.mark.parametrize(
    ("number", "alone"),
    [
        ("皖Q0686学", "皖Q06869"),  # the coach plate's 学, which the plate models never write
        ("皖Q06417", "皖QQ6417"),  # a round 0 the plate models took for a Q
        ("粤A5J512", "鲁A5J512"),  # a province the plate models were unsure of
    ],
)
def test_the_second_opinion_reads_what_the_plate_models_alone_misread(
    reader: PlateReader, fixtures_dir: Path, number: str, alone: str
) -> None:
    image = _scene(fixtures_dir, number)
    assert [read.number for read in PlateReader(ClprEngine()).read(image)] == [alone]
    assert [read.number for read in reader.read(image)] == [number]


def test_every_plate_of_a_busy_street_is_read(reader: PlateReader, fixtures_dir: Path) -> None:
    """Three plates, one of them a double-row yellow one, and a blue plate on a blue car."""
    scenes, _ = load_manifest(fixtures_dir / "plates")
    sample = next(s for s in scenes if s.path.name == "津KNG518.jpg")
    image = load_image(sample.path)
    assert image is not None
    assert {read.number for read in reader.read(image)} == {"津AD9823", "津AHP676", "津KNG518"}


def test_a_blue_plate_among_trees_is_blue() -> None:
    crop = np.zeros((40, 120, 3), np.uint8)
    crop[:] = (40, 160, 40)  # green all round (BGR)
    crop[8:32, 10:110] = (180, 80, 20)  # the plate
    assert plate_colour(crop) == "blue"
    assert plate_colour(np.full((40, 120, 3), 128, np.uint8)) is None  # grey: unknown


def test_a_camera_timestamp_and_signs_are_not_emitted(
    reader: PlateReader, fixtures_dir: Path
) -> None:
    """This photo carries a timestamp and '地下入口' burnt in: only the plate comes out."""
    reads = reader.read(_scene(fixtures_dir, "川A113YP"))
    assert [read.number for read in reads] == ["川A113YP"]


def test_plate_crops_are_read(reader: PlateReader, fixtures_dir: Path) -> None:
    _, crops = load_manifest(fixtures_dir / "plates")
    sample = crops[:40]
    exact = 0
    for crop in sample:
        image = load_image(crop.path)
        read = reader.read_crop(image) if image is not None else None
        exact += read is not None and read.number in crop.truth
    assert exact >= 38  # the benchmark measures the whole set


def test_nothing_is_read_from_an_empty_frame(reader: PlateReader) -> None:
    assert reader.read(np.zeros((720, 1280, 3), np.uint8)) == []
    assert reader.read_crop(np.full((24, 94, 3), 255, np.uint8)) is None


@pytest.mark.parametrize("shape", [(0, 0, 3), (1, 1, 3), (3, 500, 3), (500, 3, 3), (40, 60)])
def test_frames_too_small_or_grey_give_nothing_and_no_error(
    reader: PlateReader, shape: tuple[int, ...]
) -> None:
    frame = np.full(shape, 90, np.uint8)
    assert reader.read(frame) == []
    assert reader.read_crop(frame) is None


def _encode(array: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, array)
    assert ok
    return data.tobytes()


def test_greyscale_16_bit_and_alpha_images_decode_to_8_bit_colour() -> None:
    grey = decode(_encode(np.full((20, 30), 128, np.uint8)))
    deep = decode(_encode(np.full((20, 30), 60000, np.uint16)))
    alpha = decode(_encode(np.full((20, 30, 4), 200, np.uint8)))
    for image in (grey, deep, alpha):
        assert image.dtype == np.uint8 and image.shape == (20, 30, 3)
    assert deep[0, 0, 0] == 60000 >> 8


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0 cut short"])
def test_corrupt_images_are_clear_errors(data: bytes) -> None:
    with pytest.raises(ImageError):
        decode(data)


def test_a_jpeg_cut_short_in_transfer_is_read_as_far_as_its_data_goes() -> None:
    rows = np.linspace(0, 255, 480, dtype=np.uint8)[:, np.newaxis, np.newaxis]
    whole = decode(_encode(np.broadcast_to(rows, (480, 640, 3)).copy(), ".jpg"))
    data = _encode(whole, ".jpg")
    last_bytes_lost = decode(data[:-15])
    half_lost = decode(data[: len(data) // 2])
    assert last_bytes_lost.shape == half_lost.shape == whole.shape
    assert np.abs(last_bytes_lost[:400].astype(int) - whole[:400]).max() <= 2
    assert np.abs(half_lost[:100].astype(int) - whole[:100]).max() <= 2
    assert np.abs(half_lost[-50:].astype(int) - whole[-50:]).mean() > 50  # the lost rows
    with pytest.raises(ImageError):
        decode(data[:40])  # cut inside its header: nothing to read


def test_an_image_over_20_megapixels_is_refused_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("L", (6000, 4000)).save(buffer, format="PNG")  # 24 MP, tiny as a PNG
    assert MAX_PIXELS < 6000 * 4000
    with pytest.raises(ImageError, match="megapixels"):
        decode(buffer.getvalue())


def _read(number: str, score: float = 0.9) -> PlateRead:
    return PlateRead(number, PlateClass.ORDINARY, score, None)


def _numbers(votes: list[Vote]) -> list[str]:
    return sorted(vote.number for vote in votes)


def test_a_vehicle_is_decided_once_when_its_reads_agree() -> None:
    voter = PlateVoter(agree=3, gap_s=2.0)
    assert voter.add([_read("京A12345")], 0.0) == []
    assert voter.add([_read("京A12346", 0.5)], 0.1) == []  # one misread frame
    assert voter.add([_read("京A12345")], 0.2) == []
    assert voter.add([_read("京A12345", 0.95)], 0.3) == [Vote("京A12345", 0.95)]
    assert voter.add([_read("京A12345")], 0.4) == []  # the same vehicle: decided already
    assert voter.add([_read("京A12345")], 3.0) == []  # back after a gap: a new vehicle…
    assert _numbers(voter.add([_read("京A12345")], 3.1)) == []
    assert _numbers(voter.add([_read("京A12345")], 3.2)) == ["京A12345"]  # …decided again


def test_two_vehicles_in_one_frame_are_voted_apart() -> None:
    voter = PlateVoter(agree=2)
    both = [_read("京A12345"), _read("京A12346")]  # even one character apart
    assert voter.add(both, 0.0) == []
    assert _numbers(voter.add(both, 0.1)) == ["京A12345", "京A12346"]


def test_the_next_car_of_a_fleet_gets_its_own_decision() -> None:
    voter = PlateVoter(agree=2)
    voter.add([_read("京A12345")], 0.0)
    assert _numbers(voter.add([_read("京A12345")], 0.1)) == ["京A12345"]
    voter.add([_read("京A12346")], 0.2)
    assert _numbers(voter.add([_read("京A12346")], 0.3)) == ["京A12346"]


def test_a_lane_decides_a_vehicle_once_from_several_frames(
    reader: PlateReader, fixtures_dir: Path
) -> None:
    frame = _scene(fixtures_dir, "京PC5U22")
    admitted: list[PlateEvidence] = []
    pictures: list[bytes] = []

    def admit(evidence: PlateEvidence, snapshot: Callable[[], bytes] | None) -> bool:
        admitted.append(evidence)
        assert snapshot is not None
        pictures.append(snapshot())
        return True

    lane = PlateLane("car-in", reader, PlateVoter(agree=2, gap_s=2.0), admit)
    decided = [d for t in (0.0, 0.1, 0.2, 0.3) for d in lane.on_frame(frame, t)]
    assert [(d.number, d.granted) for d in decided] == [("京PC5U22", True)]
    assert [e.number for e in admitted] == ["京PC5U22"]
    assert admitted[0].confidence is not None and admitted[0].confidence > 0.5
    # The decision's picture is the plate, not the scene: small, and it reads the same.
    [picture] = pictures
    crop = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[0] * crop.shape[1] < frame.shape[0] * frame.shape[1] / 10
    assert [r.number for r in reader.read(crop)] == ["京PC5U22"]
    assert lane.on_frame(np.zeros((0, 0, 3), np.uint8), 0.4) == []  # an empty frame: skipped


class ScriptedEngine:
    """An engine whose detector finds the given places and whose recogniser reads any crop
    as `text` (a stand-in for the models, to see what the reader asks of them)."""

    def __init__(self, places: list[tuple[int, int, int, int]], text: str) -> None:
        self.places = places
        self.text = text
        self.crops: list[tuple[int, ...]] = []

    def read_line(self, crop: np.ndarray) -> TextRead | None:
        self.crops.append(crop.shape)
        return TextRead(self.text, 0.9)

    def find_lines(self, image: np.ndarray) -> list[np.ndarray]:
        return [
            np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
            for x, y, w, h in self.places
        ]


def _street_with_a_blue_plate() -> np.ndarray:
    frame = np.full((480, 640, 3), 70, np.uint8)
    frame[300:345, 250:390] = (180, 80, 20)  # a blue plate, 140 x 45 (BGR)
    return frame


def test_a_place_the_detector_read_is_not_read_again_as_a_colour_region() -> None:
    engine = ScriptedEngine([(250, 300, 140, 45)], "京A12345")
    reads = PlateReader(engine).read(_street_with_a_blue_plate())
    assert [(r.number, r.colour) for r in reads] == [("京A12345", "blue")]
    assert len(engine.crops) == 1  # the detector's place only


def test_a_colour_region_the_detector_missed_is_read() -> None:
    engine = ScriptedEngine([], "京A12345")
    reads = PlateReader(engine).read(_street_with_a_blue_plate())
    assert [r.number for r in reads] == ["京A12345"]
    assert reads[0].box is not None and abs(reads[0].box[0] - 250) < 10
    assert len(engine.crops) == 1


def test_text_that_is_no_plate_is_not_emitted_wherever_it_is_found() -> None:
    engine = ScriptedEngine([(250, 300, 140, 45), (20, 20, 200, 30)], "2026-11-29 04:31")
    assert PlateReader(engine).read(_street_with_a_blue_plate()) == []
