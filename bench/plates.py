"""Reading Chinese plates from real photos: whole scenes (EasyPR) and plate crops (LPRNet).

A scene counts as exact when the set of plates emitted equals the set labelled in it
(`gt_boxes`, else the file's `gt_plate`; a label the photo contradicts is mended, see
LABEL_ERRORS, and `scene_exact_as_labelled` keeps it), province character included: a
missed plate, a misread one or anything else emitted as a plate all fail it. An image that
cannot be decoded counts as a failure (photos are decoded as the edge decodes camera images).
The reader runs on the engine a plate camera uses by default: the plate models (`ClprEngine`)
with PP-OCR's second opinion where it could change a reading (`SecondOpinion`);
`plate_models_alone_*` is the plate models without it, in the same run.
The baseline is the general OCR engine the issue names (RapidOCR, PP-OCR) alone on the same
whole photos, in the same run (all readers take each photo in turn, so that the machine's
drifting speed falls on each alike): its detector and recogniser on the full image, keeping the
strings that are valid plates as they are. `rapidocr_reader_*` is our reader on that engine
instead of the plate models (the reader before them), in the same run too.
`labelled_boxes_scene_exact` reads each labelled plate from its labelled box instead of
finding it: what the recogniser reaches with localisation perfect.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from bench.common import Row, base_parser, machine, number, print_table, write_json
from edge.images import ImageError, decode
from edge.plates.clpr import ClprEngine
from edge.plates.engines import text_engine
from edge.plates.ocr import RapidOcrEngine, TextEngine
from edge.plates.reader import PlateReader, enlarge, straighten
from models.plates import PlateError, parse

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "plates"


@dataclass(frozen=True)
class Sample:
    path: Path
    truth: frozenset[str]
    boxes: tuple[LabelledBox, ...] = ()
    labelled: frozenset[str] = frozenset()  # the fixture's own label, where LABEL_ERRORS mends it


@dataclass(frozen=True)
class LabelledBox:
    """A plate's rotated rectangle as labelled in `gt_boxes`: centre, size, degrees."""

    plate: str
    centre: tuple[float, float]
    size: tuple[float, float]
    angle: float


# Fixture crops whose picture is not a licence plate, found by looking at them: left out of
# crop_exact (crop_exact_all counts them as misses). Each with what the picture shows.
NOT_PLATES = {
    "LPRNet_Pytorch/data/test/皖AJ0J22.jpg": "a parking sign reading 合肥城泊, no plate",
}


# Fixture scenes whose label is not what the photo shows, found by looking at the plate:
# scene_exact and labelled_boxes_scene_exact score them by what the photo shows,
# scene_exact_as_labelled by the label. Each with the label and the plate as photographed.
LABEL_ERRORS = {
    "EasyPR/resources/image/general_test/粤A94372.JPG": ("粤A94372", "粤A9A372"),
    # a public-security organ's plate: the letter O (as the file is named), not a zero
    "EasyPR/resources/image/general_test/粤OA9112.jpg": ("粤0A9112", "粤OA9112"),
}


def load_manifest(fixtures: Path) -> tuple[list[Sample], list[Sample]]:
    """(scenes, crops) from MANIFEST.tsv; crops that are not plates (NOT_PLATES) left out,
    scene labels in LABEL_ERRORS mended."""
    scenes, crops = [], []
    with (fixtures / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            path = fixtures / row["local_path"]
            if row["source"] == "EasyPR":
                boxes = tuple(_labelled(b) for b in json.loads(row["gt_boxes"] or "[]"))
                labelled = frozenset(b.plate for b in boxes) or frozenset({row["gt_plate"]})
                wrong, shown = LABEL_ERRORS.get(row["local_path"], ("", ""))
                boxes = tuple(replace(b, plate=shown) if b.plate == wrong else b for b in boxes)
                truth = frozenset(shown if plate == wrong else plate for plate in labelled)
                scenes.append(Sample(path, truth, boxes, labelled))
            elif row["source"] == "LPRNet_Pytorch" and row["local_path"] not in NOT_PLATES:
                crops.append(Sample(path, frozenset({row["gt_plate"]})))
    return scenes, crops


def _labelled(box: dict[str, object]) -> LabelledBox:
    def num(key: str) -> float:
        return float(box[key])  # type: ignore[arg-type]

    return LabelledBox(
        str(box["plate"]), (num("cx"), num("cy")), (num("w"), num("h")), num("angle")
    )


def load_image(path: Path) -> np.ndarray | None:
    """The photo as the edge decodes what cameras send (`edge.images.decode`), or None."""
    try:
        return decode(path.read_bytes())
    except ImageError:
        return None


Read = Callable[[np.ndarray], set[str]]  # the plate numbers read from a photo


@dataclass(frozen=True)
class Measured:
    exact: float  # share of samples read exactly (an undecodable image counts as missed)
    median_ms: float  # a sample
    found: list[set[str] | None]  # what was read from each (None: the image is undecodable)


def measure(samples: list[Sample], reads: dict[str, Read]) -> dict[str, Measured]:
    """Each way of reading on every sample, interleaved sample by sample: this machine's
    speed drifts within minutes, and so it drifts for all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in reads}
    found: dict[str, list[set[str] | None]] = {name: [] for name in reads}
    exact = dict.fromkeys(reads, 0)
    for sample in samples:
        image = load_image(sample.path)
        for name, read in reads.items():
            if image is None:
                found[name].append(None)
                continue
            start = time.perf_counter()
            numbers = read(image)
            times[name].append((time.perf_counter() - start) * 1000)
            found[name].append(numbers)
            exact[name] += numbers == sample.truth
    return {
        name: Measured(
            exact[name] / max(1, len(samples)),
            statistics.median(times[name]) if times[name] else 0.0,
            found[name],
        )
        for name in reads
    }


@dataclass(frozen=True)
class SceneResult:
    exact: float
    exact_as_labelled: float
    median_ms: float
    emitted: int
    invalid: int  # emitted strings that are not valid plates


def scene_result(measured: Measured, scenes: list[Sample]) -> SceneResult:
    found = measured.found
    as_labelled = sum(numbers == s.labelled for s, numbers in zip(scenes, found, strict=True))
    emitted = [n for numbers in found if numbers is not None for n in numbers]
    return SceneResult(
        exact=measured.exact,
        exact_as_labelled=as_labelled / max(1, len(scenes)),
        median_ms=measured.median_ms,
        emitted=len(emitted),
        invalid=sum(1 for n in emitted if not _valid(n)),
    )


def plates_in_scene(reader: PlateReader) -> Read:
    return lambda image: {read.number for read in reader.read(image)}


def baseline() -> Read:
    """RapidOCR as it comes, on whole photos: its detector and recogniser at their own
    settings, keeping the strings that are valid plates (loaded before it is timed)."""
    from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415 (the baseline only)

    engine = RapidOCR()
    engine(np.zeros((480, 640, 3), np.uint8))

    def read(image: np.ndarray) -> set[str]:
        result, _ = engine(image)
        texts = [text for _, text, _ in result or []]
        return {number for text in texts if (number := _as_plate(text)) is not None}

    return read


def plate_in_crop(reader: PlateReader) -> Read:
    def read(image: np.ndarray) -> set[str]:
        plate = reader.read_crop(image)
        return set() if plate is None else {plate.number}

    return read


def run_labelled_boxes(reader: PlateReader, scenes: list[Sample]) -> float:
    """Share of scenes whose labelled plates are all read exactly from their labelled boxes
    (with the reader's margins, straightened): the recogniser alone, with localisation
    perfect. The distance from it to scene_exact is what finding plates costs."""
    exact = 0
    for sample in scenes:
        image = load_image(sample.path)
        if image is None or not sample.boxes:
            continue
        exact += all(_read_box(reader, image, box) == box.plate for box in sample.boxes)
    return exact / len(scenes)


def _read_box(reader: PlateReader, image: np.ndarray, box: LabelledBox) -> str | None:
    width, height = box.size
    angle = box.angle
    if width < height:  # labelled standing up: the plate's long side is its height
        width, height, angle = height, width, angle + 90
    corners = cv2.boxPoints((box.centre, (width, height), angle)).astype(np.float32)
    sums, diffs = corners.sum(axis=1), np.diff(corners, axis=1).ravel()
    quad = corners[[sums.argmin(), diffs.argmin(), sums.argmax(), diffs.argmax()]]
    read = reader.read_crop(straighten(image, enlarge(quad)))
    return None if read is None else read.number


def _valid(text: str) -> bool:
    return _as_plate(text) is not None


def _as_plate(text: str) -> str | None:
    try:
        return parse(text).number
    except PlateError:
        return None


def warmed(engine: TextEngine, scenes: list[Sample]) -> PlateReader:
    """A reader on `engine` with its models loaded (not timed)."""
    reader = PlateReader(engine)
    first = load_image(scenes[0].path) if scenes else None
    reader.read(first if first is not None else np.zeros((480, 640, 3), np.uint8))
    return reader


def run(fixtures: Path, limit: int | None) -> dict[str, object]:
    scenes, crops = load_manifest(fixtures)
    scenes, crops = scenes[:limit], crops[:limit]
    reader = warmed(text_engine("plate_models"), scenes)
    measured = measure(
        scenes,
        {
            "reader": plates_in_scene(reader),
            "alone": plates_in_scene(warmed(ClprEngine(), scenes)),
            "baseline": baseline(),
            "rapidocr": plates_in_scene(warmed(RapidOcrEngine(), scenes)),
        },
    )
    scene, alone = scene_result(measured["reader"], scenes), measured["alone"]
    rapidocr = measured["rapidocr"]
    baseline_exact, baseline_ms = measured["baseline"].exact, measured["baseline"].median_ms
    on_crops = measure(crops, {"reader": plate_in_crop(reader)})["reader"]
    crop_exact, crop_ms = on_crops.exact, on_crops.median_ms
    read_right = round(crop_exact * len(crops))
    labelled_exact = run_labelled_boxes(reader, scenes)
    return {
        "scene_exact": round(scene.exact, 4),
        "scene_exact_as_labelled": round(scene.exact_as_labelled, 4),
        "scene_labels_mended": sorted(LABEL_ERRORS),
        "scene_median_ms": round(scene.median_ms, 1),
        "crop_exact": round(crop_exact, 4),
        "crop_median_ms": round(crop_ms, 1),
        "crop_exact_all": round(read_right / (len(crops) + len(NOT_PLATES)), 4) if crops else 0.0,
        "crops_not_plates": sorted(NOT_PLATES),
        "invalid_emitted": round(scene.invalid / scene.emitted, 4) if scene.emitted else 0.0,
        "baseline_scene_exact": round(baseline_exact, 4),
        "baseline_scene_median_ms": round(baseline_ms, 1),
        "labelled_boxes_scene_exact": round(labelled_exact, 4),
        "scene_time_vs_baseline": round(scene.median_ms / baseline_ms, 3) if baseline_ms else 0.0,
        "plate_models_alone_scene_exact": round(alone.exact, 4),
        "plate_models_alone_scene_median_ms": round(alone.median_ms, 1),
        "rapidocr_reader_scene_exact": round(rapidocr.exact, 4),
        "rapidocr_reader_scene_median_ms": round(rapidocr.median_ms, 1),
        "scenes": len(scenes),
        "crops": len(crops),
        "emitted": scene.emitted,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.plates", __doc__)
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--limit", type=int, help="at most this many scenes and crops")
    args = parser.parse_args(argv)
    if not (args.fixtures / "MANIFEST.tsv").exists():
        parser.error(f"no MANIFEST.tsv in {args.fixtures} (the plate fixtures)")
    results = run(args.fixtures, args.limit)
    scene, ms = number(results, "scene_exact"), number(results, "scene_median_ms")
    crop, invalid = number(results, "crop_exact"), number(results, "invalid_emitted")
    rows = [
        Row("scene_exact", scene, "", ">= 0.95", scene >= 0.95),
        Row("scene_exact_as_labelled", number(results, "scene_exact_as_labelled"), ""),
        Row("scene_median_ms", ms, "ms", "<= 150", ms <= 150),
        Row("crop_exact", crop, "", ">= 0.99", crop >= 0.99),
        Row("crop_median_ms", number(results, "crop_median_ms"), "ms"),
        Row("invalid_emitted", invalid, "", "= 0", invalid == 0),
        Row("baseline_scene_exact", number(results, "baseline_scene_exact"), ""),
        Row("baseline_scene_median_ms", number(results, "baseline_scene_median_ms"), "ms"),
        Row("labelled_boxes_scene_exact", number(results, "labelled_boxes_scene_exact"), ""),
        Row("scene_time_vs_baseline", number(results, "scene_time_vs_baseline"), "x"),
        Row(
            "plate_models_alone_scene_exact", number(results, "plate_models_alone_scene_exact"), ""
        ),
        Row(
            "plate_models_alone_scene_median_ms",
            number(results, "plate_models_alone_scene_median_ms"),
            "ms",
        ),
        Row("rapidocr_reader_scene_exact", number(results, "rapidocr_reader_scene_exact"), ""),
        Row(
            "rapidocr_reader_scene_median_ms",
            number(results, "rapidocr_reader_scene_median_ms"),
            "ms",
        ),
    ]
    print_table(f"bench.plates, {results['scenes']} scenes, {results['crops']} crops", rows)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
