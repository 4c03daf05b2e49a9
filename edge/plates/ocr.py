"""The text engine behind the plate reader: anything that reads a line of text from a crop and
finds lines of text in a frame. Two are provided, both with models shipped inside their wheels
(nothing is downloaded at run time): `edge.plates.clpr.ClprEngine`, made for plates, which
the edge uses, and RapidOCR's general PP-OCR models here. A better engine replaces them by
implementing `TextEngine`. An engine that can say how likely each symbol was at each step
(`Posterior`) lets the reader choose characters by plate position with the model's own
odds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edge.images import scaled
from edge.plates.decode import Alphabet, Posterior, best_path

Box = tuple[int, int, int, int]  # x, y, width, height
Quad = np.ndarray  # 4 x 2 float32 corners, clockwise from the top left


def bounds(quad: Quad) -> Box:
    """The upright box around `quad`."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


# A line is read padded to at least 5:1 (240 px at the recogniser's 48): room for a plate
# (about 3:1) and blank beyond, as the model saw lines in training. Narrower lost accuracy on
# the fixture crops; the engine's own 320 px only costs time.
PADDED_RATIO = 5.0
# PP-OCR's line detector takes time with its pixels: every frame is scaled to the same number
# (a small photo enlarged, up to twice, so that its plates are tall enough).
DETECT_PIXELS = 300_000
MAX_DETECT_ZOOM = 2.0


SecondReading = Callable[[], Posterior | None]  # another engine's reading of the same crop


@dataclass(frozen=True)
class TextRead:
    text: str
    score: float
    posterior: Posterior | None = None  # engines that give per-step probabilities
    second: SecondReading | None = None  # another engine's, read when asked for


class TextEngine(Protocol):
    def read_line(self, crop: np.ndarray) -> TextRead | None:
        """The one line of text that fills `crop` (8-bit BGR), if any."""
        ...

    def find_lines(self, image: np.ndarray) -> list[Quad]:
        """Where the lines of text in `image` (8-bit BGR) are, in its own pixels (the engine
        scales it as its detector needs)."""
        ...


class RapidOcrEngine:
    """PP-OCR detection and recognition via `rapidocr_onnxruntime`, loaded on first use."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._alphabet = Alphabet(())
        self._lock = threading.Lock()

    def read_line(self, crop: np.ndarray) -> TextRead | None:
        if crop.ndim != 3 or min(crop.shape[:2]) < 2:
            return None
        with self._lock:
            recogniser = self._get().text_rec
            ratio = max(PADDED_RATIO, crop.shape[1] / crop.shape[0])
            batch = recogniser.resize_norm_img(crop, ratio)[np.newaxis]
            probs = recogniser.session(batch)[0][0]
        posterior = Posterior(probs, self._alphabet)
        text, score = best_path(posterior)
        return TextRead(text, score, posterior=posterior) if text else None

    def find_lines(self, image: np.ndarray) -> list[Quad]:
        small, scale = scaled(image, DETECT_PIXELS, MAX_DETECT_ZOOM)
        with self._lock:
            quads, _ = self._get().text_det(small)
        return [] if quads is None else [np.asarray(q, np.float32) / scale for q in quads]

    def _get(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415 (heavy: load when used)

            self._engine = RapidOCR()
            # Images as given: `find_lines` scales frames to the detector's pixel budget,
            # and the configured minimum side would enlarge them again.
            self._engine.text_det.limit_side_len = 32
            self._alphabet = Alphabet(self._engine.text_rec.postprocess_op.character)
        return self._engine
