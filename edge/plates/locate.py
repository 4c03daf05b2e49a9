"""Where the plates may be: regions of plate colour (blue, yellow, green) with a plate's
shape, found on a downscaled copy of the frame. Cheap (a few milliseconds) and good at the
usual case, as a second way beside the text engine's own detector, which the reader runs
first on every frame (white police, WJ and 使 plates and black 港/澳 and 领 plates are its alone).
Also the colour of a crop that is one plate, which narrows the classes it can be.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.plates.ocr import Box

WORK_WIDTH = 800
MAX_CANDIDATES = 6
# HSV ranges (OpenCV: hue 0-180) of the plate backgrounds in daylight and under lamps.
COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "blue": ((100, 90, 60), (125, 255, 255)),
    "yellow": ((15, 90, 90), (35, 255, 255)),
    "green": ((35, 40, 90), (85, 255, 255)),
}
# A single-row plate is 440 x 140 mm (3.1:1), a double-row one 440 x 220 mm (2:1); allow for
# perspective and for the region's margins.
MIN_ASPECT, MAX_ASPECT = 1.6, 7.0
DOUBLE_ROW_BELOW = 2.4
COLOUR_SHARE = 0.4


@dataclass(frozen=True)
class Candidate:
    colour: str
    box: Box  # in the full frame's pixels
    double_row: bool


def candidates(image: np.ndarray) -> list[Candidate]:
    """Largest first, at most `MAX_CANDIDATES`."""
    width = image.shape[1]
    scale = min(1.0, WORK_WIDTH / width)
    small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale)
    found: list[tuple[int, Candidate]] = []
    for colour, mask in _masks(small).items():
        for x, y, w, h in _regions(mask):
            box = (int(x / scale), int(y / scale), int(w / scale), int(h / scale))
            found.append((w * h, Candidate(colour, box, w / h < DOUBLE_ROW_BELOW)))
    found.sort(key=lambda item: -item[0])
    return [candidate for _, candidate in found[:MAX_CANDIDATES]]


def plate_colour(crop: np.ndarray) -> str | None:
    """The background colour of a crop that is one plate, when one of the plate colours
    covers at least `COLOUR_SHARE` of its middle (the characters cover much of the rest;
    the margins, often grass, paint or road, are not looked at)."""
    height, width = crop.shape[:2]
    middle = crop[height // 4 : height - height // 4, width // 10 : width - width // 10]
    if middle.size == 0:
        return None
    shares = {colour: float(np.mean(mask > 0)) for colour, mask in _masks(middle).items()}
    colour = max(shares, key=lambda c: shares[c])
    return colour if shares[colour] >= COLOUR_SHARE else None


def _masks(image: np.ndarray) -> dict[str, np.ndarray]:
    """For each plate colour, where `image` has it."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    return {
        colour: cv2.inRange(hsv, np.array(low), np.array(high))
        for colour, (low, high) in COLOURS.items()
    }


def _regions(mask: np.ndarray) -> list[Box]:
    closed = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 5))
    )
    opened = cv2.morphologyEx(
        closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3))
    )
    contours, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if h < 8 or w < 25 or not MIN_ASPECT <= w / h <= MAX_ASPECT:
            continue
        if cv2.contourArea(contour) < 0.45 * w * h:  # a plate fills its box
            continue
        boxes.append((x, y, w, h))
    return boxes
