"""The text engines a plate camera can be configured with (`plate_engine` in its section)."""

from __future__ import annotations

from edge.config import PlateEngineName
from edge.plates.clpr import ClprEngine, model_paths
from edge.plates.ocr import RapidOcrEngine, TextEngine


def text_engine(name: PlateEngineName) -> TextEngine:
    """A new engine (each lane has its own); the plate models' files are checked now, so a
    broken install stops the edge at start rather than failing every frame of a lane."""
    if name == "plate_models":
        model_paths()
        return ClprEngine()
    return RapidOcrEngine()
