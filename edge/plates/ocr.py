"""The text engine behind the plate reader: anything that reads a line of text from a crop and
finds lines of text in a frame. RapidOCR (PP-OCR models in ONNX, shipped inside its wheel: no
download at run time) is the one provided; a better engine replaces it by implementing
`TextEngine`."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height


@dataclass(frozen=True)
class TextRead:
    text: str
    score: float
    box: Box | None = None


class TextEngine(Protocol):
    def read_line(self, crop: np.ndarray) -> TextRead | None:
        """The one line of text that fills `crop`, if any."""
        ...

    def find_text(self, image: np.ndarray) -> list[TextRead]:
        """Every line of text in `image`, with where it is."""
        ...


class RapidOcrEngine:
    """PP-OCR detection and recognition via `rapidocr_onnxruntime`, loaded on first use."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def read_line(self, crop: np.ndarray) -> TextRead | None:
        with self._lock:
            result, _ = self._get()(crop, use_det=False, use_cls=False, use_rec=True)
        if not result:
            return None
        text, score = result[0][0], float(result[0][1])
        return TextRead(text, score) if text else None

    def find_text(self, image: np.ndarray) -> list[TextRead]:
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
        return self._engine
