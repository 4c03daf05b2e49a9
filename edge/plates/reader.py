"""From a frame (or a plate crop) to validated plates.

Each plate-coloured region is cropped from the full-resolution frame with a margin and read
as one line (a double-row plate as two); the text is normalised, look-alikes are repaired by
position, and only strings that are Chinese plates survive (timestamps, shop signs and van
lettering do not). When no region yields a plate, the text engine's own detector reads the
whole frame, downscaled, and the same validation applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.plates.locate import Candidate, candidates
from edge.plates.ocr import Box, TextEngine, TextRead
from models.plates import PlateClass, PlateError, repair

MARGIN_X, MARGIN_Y = 0.03, 0.10
FALLBACK_SIDE = 960
MIN_SCORE = 0.5
TOP_ROW = 0.38  # a double-row plate's top row (province and letter) as a share of its height


@dataclass(frozen=True)
class PlateRead:
    number: str
    plate_class: PlateClass
    score: float
    box: Box | None
    colour: str | None = None


class PlateReader:
    def __init__(self, engine: TextEngine, *, fallback: bool = True) -> None:
        self._engine = engine
        self._fallback = fallback

    def read(self, image: np.ndarray) -> list[PlateRead]:
        """Every plate in the frame, best first, each number once."""
        found: dict[str, PlateRead] = {}
        for candidate in candidates(image):
            read = self._read_region(image, candidate)
            if read is not None:
                _keep(found, read)
        if not found and self._fallback:
            for read in self._read_whole(image):
                _keep(found, read)
        return sorted(found.values(), key=lambda r: -r.score)

    def read_crop(self, crop: np.ndarray) -> PlateRead | None:
        """A crop that is one plate (from a camera that found it, or a test set)."""
        height, width = crop.shape[:2]
        box = (0, 0, width, height)
        if width / max(height, 1) < 2.4:
            read = self._two_rows(crop, box, None)
            if read is not None:
                return read
        read = _plate(self._engine.read_line(crop), box, None)
        if read is None:  # unreadable as it is: once more with a border and at twice the size
            padded = cv2.copyMakeBorder(crop, 4, 4, 8, 8, cv2.BORDER_REPLICATE)
            enlarged = cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            read = _plate(self._engine.read_line(enlarged), box, None)
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
        joined = TextRead(top.text + bottom.text, min(top.score, bottom.score))
        return _plate(joined, box, colour)

    def _read_whole(self, image: np.ndarray) -> list[PlateRead]:
        height, width = image.shape[:2]
        scale = min(1.0, FALLBACK_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale)
        reads = []
        for text in self._engine.find_text(small):
            box = None
            if text.box is not None:
                box = tuple(int(v / scale) for v in text.box)
            plate = _plate(text, box, None)  # type: ignore[arg-type]
            if plate is not None:
                reads.append(plate)
        return reads


def _plate(text: TextRead | None, box: Box | None, colour: str | None) -> PlateRead | None:
    if text is None or text.score < MIN_SCORE:
        return None
    try:
        plate = repair(text.text)
    except PlateError:
        return None
    return PlateRead(plate.number, plate.plate_class, round(text.score, 3), box, colour)


def _keep(found: dict[str, PlateRead], read: PlateRead) -> None:
    known = found.get(read.number)
    if known is None or read.score > known.score:
        found[read.number] = read
