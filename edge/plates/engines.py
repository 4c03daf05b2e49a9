"""The text engines a plate camera can be configured with (`plate_engine` in its section)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from anju.plate_models import model_paths
from edge.config import PlateEngineName
from edge.plates.clpr import ClprEngine
from edge.plates.decode import Posterior
from edge.plates.ocr import Quad, RapidOcrEngine, TextEngine, TextRead


class SecondOpinion:
    """`primary` finds and reads the plates; `second` reads a crop too when the decoder asks
    (where the primary's reading is unsure, or could hold a symbol the primary never learned),
    and the decoder weighs its probabilities in (`edge.plates.decode.read_plate`)."""

    def __init__(self, primary: TextEngine, second: TextEngine) -> None:
        self._primary = primary
        self._second = second

    def find_lines(self, image: np.ndarray) -> list[Quad]:
        return self._primary.find_lines(image)

    def read_line(self, crop: np.ndarray) -> TextRead | None:
        read = self._primary.read_line(crop)
        if read is None or read.posterior is None:
            return read
        return replace(read, second=partial(self._second_reading, crop))

    def _second_reading(self, crop: np.ndarray) -> Posterior | None:
        read = self._second.read_line(crop)
        return None if read is None else read.posterior


def _plate_models() -> TextEngine:
    """The plate models, with PP-OCR's second opinion on each plate; their files are checked
    now, so that a broken install stops the edge at start rather than failing every frame."""
    model_paths()
    return SecondOpinion(ClprEngine(), RapidOcrEngine())


# The text engines by the name a plate camera's `plate_engine` gives.
TEXT_ENGINES: dict[PlateEngineName, Callable[[], TextEngine]] = {
    "plate_models": _plate_models,
    "general_ocr": RapidOcrEngine,
}


def text_engine(name: PlateEngineName) -> TextEngine:
    """A new engine (each lane has its own)."""
    return TEXT_ENGINES[name]()
