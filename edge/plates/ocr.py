"""The text engine behind the plate reader: anything that reads a line of text from a crop and
finds lines of text in a frame. RapidOCR (PP-OCR models in ONNX, shipped inside its wheel: no
download at run time) is the one provided; a better engine replaces it by implementing
`TextEngine`. An engine that can say how likely each symbol was at each step (`Posterior`)
lets the reader choose characters by plate position with the model's own odds."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edge.plates.decode import Posterior, best_path

Box = tuple[int, int, int, int]  # x, y, width, height
Quad = np.ndarray  # 4 x 2 float32 corners, clockwise from the top left
# A line is read padded to at least 5:1 (240 px at the recogniser's 48): room for a plate
# (about 3:1) and blank beyond, as the model saw lines in training. Narrower lost accuracy on
# the fixture crops; the engine's own 320 px only costs time.
PADDED_RATIO = 5.0


@dataclass(frozen=True)
class TextRead:
    text: str
    score: float
    box: Box | None = None
    posterior: Posterior | None = None


class TextEngine(Protocol):
    def read_line(self, crop: np.ndarray) -> TextRead | None:
        """The one line of text that fills `crop`, if any."""
        ...

    def find_lines(self, image: np.ndarray) -> list[Quad]:
        """Where the lines of text in `image` are (its own pixels)."""
        ...


class RapidOcrEngine:
    """PP-OCR detection and recognition via `rapidocr_onnxruntime`, loaded on first use."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._symbols: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def read_line(self, crop: np.ndarray) -> TextRead | None:
        if crop.ndim != 3 or min(crop.shape[:2]) < 2:
            return None
        with self._lock:
            recogniser = self._get().text_rec
            ratio = max(PADDED_RATIO, crop.shape[1] / crop.shape[0])
            batch = recogniser.resize_norm_img(crop, ratio)[np.newaxis]
            probs = recogniser.session(batch)[0][0]
        posterior = Posterior(probs, self._symbols)
        text, score = best_path(posterior)
        return TextRead(text, score, posterior=posterior) if text else None

    def find_lines(self, image: np.ndarray) -> list[Quad]:
        with self._lock:
            detector = self._get().text_det
            configured, detector.limit_side_len = detector.limit_side_len, 32
            try:  # as given: the configured minimum side would enlarge a downscaled frame
                quads, _ = detector(image)
            finally:
                detector.limit_side_len = configured
        return [] if quads is None else [np.asarray(q, np.float32) for q in quads]

    def find_text(self, image: np.ndarray) -> list[TextRead]:
        """The engine alone on a whole image, detector and recogniser at its own settings
        (the benchmark's baseline)."""
        with self._lock:
            result, _ = self._get()(image)
        reads = []
        for points, text, score in result or []:
            xs = [int(p[0]) for p in points]
            ys = [int(p[1]) for p in points]
            box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
            reads.append(TextRead(text, float(score), box))
        return reads

    def _get(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415 (heavy: load when used)

            self._engine = RapidOCR()
            self._symbols = tuple(self._engine.text_rec.postprocess_op.character)
        return self._engine
