"""From a frame (or a plate crop) to validated plates.

Two ways find where plates may be, and both run on every frame: the text engine's own
detector (for `ClprEngine` a plate detector, which gives a plate's corners, so a tilted
plate is straightened; white and black plates are found by it alone) and regions of plate
colour (cheap, for the blue, yellow and green plates the detector missed; a colour region
where the detector's place was already read as a plate is not read again). Each place is
cropped from the full-resolution frame and read as one line, or as two when it has a
double-row plate's shape. Characters are chosen by plate position with the recogniser's own
probabilities where the engine gives them (`edge.plates.decode`), with a second
recogniser's weighed in where the engine has one (`SecondOpinion`) and its reading could
change a character; else the text is repaired by look-alikes; either way only strings that
are Chinese plates survive (timestamps, shop signs and van lettering do not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from edge.images import to_bgr8
from edge.plates.decode import Posterior, read_plate, settled
from edge.plates.locate import DOUBLE_ROW_BELOW, Candidate, candidates, plate_colour
from edge.plates.ocr import Box, Quad, SecondReading, TextEngine, TextRead, bounds
from models.plates import CLASSES_BY_COLOUR, PlateClass, PlateError, parse, repair

MARGIN_X, MARGIN_Y = 0.03, 0.10  # added to each side of a place before it is read
MIN_LINE_HEIGHT = 8  # px in the full frame: smaller lines cannot be read
MIN_LINE_ASPECT, MAX_LINE_ASPECT = 1.5, 8.0
SAME_PLACE = 0.3  # share of the smaller box covered: a colour region already read as a line
MIN_SCORE = 0.5
MIN_CHARACTER = 0.1  # every choice but the province must be at least this likely
MIN_PROVINCE = 0.01  # the province: often unsure when right, but never a pure invention
TOP_ROW = 0.38  # a double-row plate's top row (province and letter) as a share of its height


@dataclass(frozen=True)
class PlateRead:
    number: str
    plate_class: PlateClass
    score: float
    box: Box | None
    colour: str | None = None


class PlateReader:
    def __init__(self, engine: TextEngine) -> None:
        self._engine = engine

    def read(self, image: np.ndarray) -> list[PlateRead]:
        """Every plate in the frame, best first, each number once."""
        if image.size == 0:
            return []
        image = to_bgr8(image)
        found: dict[str, PlateRead] = {}
        read_at: list[Box] = []
        for quad in self._lines(image):
            box = bounds(quad)
            read = self._read_plate(straighten(image, quad), box)
            if read is not None:
                _keep(found, read)
                read_at.append(box)
        for candidate in candidates(image):
            if any(_covered(candidate.box, other) > SAME_PLACE for other in read_at):
                continue
            read = self._read_region(image, candidate)
            if read is not None:
                _keep(found, read)
        return sorted(found.values(), key=lambda r: -r.score)

    def read_crop(self, crop: np.ndarray) -> PlateRead | None:
        """A crop that is one plate (from a camera that found it, or a test set)."""
        if crop.size == 0:
            return None
        crop = to_bgr8(crop)
        height, width = crop.shape[:2]
        return self._read_plate(crop, (0, 0, width, height))

    def _read_plate(self, crop: np.ndarray, box: Box) -> PlateRead | None:
        """A crop that is one plate, found at `box` in its frame."""
        height, width = crop.shape[:2]
        colour = plate_colour(crop)
        if width / max(height, 1) < DOUBLE_ROW_BELOW:
            read = self._two_rows(crop, box, colour)
            if read is not None:
                return read
        read = _plate(self._engine.read_line(crop), box, colour)
        if read is None:  # unreadable as it is: once more with a border and at twice the size
            padded = cv2.copyMakeBorder(crop, 4, 4, 8, 8, cv2.BORDER_REPLICATE)
            enlarged = cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            read = _plate(self._engine.read_line(enlarged), box, colour)
        return read

    def _read_region(self, image: np.ndarray, candidate: Candidate) -> PlateRead | None:
        x, y, w, h = candidate.box
        mx, my = int(w * MARGIN_X), int(h * MARGIN_Y)
        crop = image[max(0, y - my) : y + h + my, max(0, x - mx) : x + w + mx]
        if crop.size == 0:
            return None
        if candidate.double_row:
            read = self._two_rows(crop, candidate.box, candidate.colour)
            if read is not None:
                return read
        return _plate(self._engine.read_line(crop), candidate.box, candidate.colour)

    def _two_rows(self, crop: np.ndarray, box: Box, colour: str | None) -> PlateRead | None:
        split = int(crop.shape[0] * TOP_ROW)
        top = self._engine.read_line(crop[:split])
        bottom = self._engine.read_line(crop[split:])
        if top is None or bottom is None:
            return None
        second = None
        if top.second is not None and bottom.second is not None:
            second = partial(_both_rows, top.second, bottom.second)
        joined = TextRead(
            top.text + bottom.text,
            min(top.score, bottom.score),
            _joined(top.posterior, bottom.posterior),
            second,
        )
        return _plate(joined, box, colour)

    def _lines(self, image: np.ndarray) -> list[Quad]:
        """Plate-shaped lines of text, as quads in the full frame, slightly enlarged."""
        lines = []
        for corners in self._engine.find_lines(image):
            long_side = float(np.linalg.norm(corners[1] - corners[0]))
            short_side = float(np.linalg.norm(corners[3] - corners[0]))
            if short_side < MIN_LINE_HEIGHT:
                continue
            if not MIN_LINE_ASPECT <= long_side / short_side <= MAX_LINE_ASPECT:
                continue
            lines.append(enlarge(corners))
        return lines


Found = tuple[str, PlateClass, float]  # number, class, score


def _joined(top: Posterior | None, bottom: Posterior | None) -> Posterior | None:
    return None if top is None or bottom is None else top.then(bottom)


def _both_rows(top: SecondReading, bottom: SecondReading) -> Posterior | None:
    return _joined(top(), bottom())


def _plate(text: TextRead | None, box: Box | None, colour: str | None) -> PlateRead | None:
    """The plate `text` holds, if any, of a class issued in `colour` (when known)."""
    if text is None:
        return None
    classes = CLASSES_BY_COLOUR.get(colour) if colour is not None else None
    if text.posterior is not None:
        found = _by_position(text.posterior, classes, text.second)
    else:
        found = _by_text(text, classes)
    if found is None:
        return None
    number, plate_class, score = found
    return PlateRead(number, plate_class, round(score, 3), box, colour)


def _by_position(
    posterior: Posterior,
    classes: frozenset[PlateClass] | None,
    second: SecondReading | None,
) -> Found | None:
    """Characters chosen by plate position with the recogniser's probabilities, and a
    second recogniser's where the engine has one and it could change the reading."""
    guess = read_plate(posterior, classes)
    if second is not None and guess is not None and not settled(guess, posterior, classes):
        other = second()
        if other is not None:
            guess = read_plate(posterior, classes, other)
    if guess is None or guess.score < MIN_SCORE or guess.weakest < MIN_CHARACTER:
        return None
    if guess.province < MIN_PROVINCE:
        return None
    try:  # the templates and the validator are two descriptions: the validator has the say
        plate = parse(guess.number)
    except PlateError:
        return None
    return plate.number, plate.plate_class, guess.score


def _by_text(text: TextRead, classes: frozenset[PlateClass] | None) -> Found | None:
    """The text with look-alikes repaired (an engine that gives no probabilities)."""
    if text.score < MIN_SCORE:
        return None
    try:
        plate = repair(text.text)
    except PlateError:
        return None
    if classes is not None and plate.plate_class not in classes:
        return None
    return plate.number, plate.plate_class, text.score


def enlarge(quad: Quad) -> Quad:
    """`quad` with the reading margins added to each side (for a roughly level line)."""
    centre = quad.mean(axis=0)
    grow = np.array([1 + 2 * MARGIN_X, 1 + 2 * MARGIN_Y], np.float32)
    return (centre + (quad - centre) * grow).astype(np.float32)


def straighten(image: np.ndarray, quad: Quad) -> np.ndarray:
    """The quad's content as an upright rectangle (a tilted plate straightened); corners
    clockwise from the top left, and outside the frame its edge repeated."""
    width = int(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def _covered(a: Box, b: Box) -> float:
    """How much of the smaller of two boxes lies inside the other."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / max(1, min(a[2] * a[3], b[2] * b[3]))


def _keep(found: dict[str, PlateRead], read: PlateRead) -> None:
    known = found.get(read.number)
    if known is None or read.score > known.score:
        found[read.number] = read
