"""Template engines: an aligned face in, a normalised template out.

Each engine aligns a face by its landmarks (dlib's 5-point model) and turns it into a
template of unit length, so that every engine's distance is the Euclidean distance between
unit vectors (0 the same, 2 opposite). Templates of different engines mean nothing to each
other: a record carries its engine's `key`, and a gallery holds one engine's templates only.

- `dlib`: face_recognition's 128-number ResNet (dlib's own chip alignment), the default;
- `mobilefacenet`: a 192-number MobileFaceNet, run by LiteRT, opt-in only with
  `accept_model_terms` (docs/faces.md says why: its terms are not clean);
- `onnx`: a model the operator licenses, with its file, checksum, input and normalisation
  declared in the configuration; nothing is fetched.

Engines are built from settings by `build_engine`, through the `ENGINES` registry; building
one loads its model (I/O), so it happens in a daemon's start-up, never at import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from anju.doctor import InstallError
from anju.faces import mobilefacenet_model
from anju.faces.landmarks import (
    MOUTH_68,
    NOSE_5,
    NOSE_TIP_68,
    FaceShape,
    Landmarker,
    face_recognition_module,
)
from anju.model_file import ModelError, check_file

EngineType = Literal["dlib", "mobilefacenet", "onnx"]


class EngineError(Exception):
    """An engine that cannot be built: a missing or damaged model, terms not accepted."""


@dataclass(frozen=True)
class Calibration:
    """An engine's frozen decision values (docs/faces.md says how each was chosen):
    a match needs a distance under `threshold` and a `margin` over the second-best person;
    two residents nearer than `look_alike` to each other are look-alikes."""

    threshold: float
    margin: float
    look_alike: float


@dataclass(frozen=True)
class EngineInfo:
    key: str  # what records carry: the engine, and for `onnx` the model's checksum
    type: EngineType
    version: str
    length: int


class TemplateEngine(Protocol):
    info: EngineInfo
    calibration: Calibration

    def encode(self, image: np.ndarray, faces: Sequence[FaceShape]) -> list[np.ndarray]:
        """Unit-length templates (float32) of `faces` in an RGB uint8 image."""
        ...


class EngineSettings(BaseModel):
    """One template engine, as a compound or an edge configures it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EngineType = Field("dlib", description="dlib (default), mobilefacenet or onnx")
    accept_model_terms: bool = Field(
        False, description="mobilefacenet only: the operator has read its terms (docs/faces.md)"
    )
    model_path: Path | None = Field(
        None,
        description="mobilefacenet: the model file if not where make install puts it; "
        "onnx: the operator's model file",
    )
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="onnx: the file's")
    input_size: int = Field(112, ge=32, le=512, description="onnx: the square input's side")
    layout: Literal["nchw", "nhwc"] = Field("nchw", description="onnx: the input's layout")
    mean: float = Field(127.5, description="onnx: pixel values become (x - mean) / std")
    std: float = Field(128.0, gt=0, description="onnx: see mean")
    bgr: bool = Field(False, description="onnx: the model takes BGR, not RGB")
    length: int = Field(512, ge=32, le=2048, description="onnx: the template's length")
    threshold: float | None = Field(None, gt=0, lt=2, description="onnx: calibrated (required)")
    margin: float = Field(0.05, ge=0, lt=1, description="onnx: over the second-best person")

    @model_validator(mode="after")
    def _complete(self) -> EngineSettings:
        if self.type == "onnx" and (self.model_path is None or self.sha256 is None):
            raise ValueError("an onnx engine needs model_path and sha256")
        if self.type == "onnx" and self.threshold is None:
            raise ValueError("an onnx engine needs its calibrated threshold (docs/faces.md)")
        return self

    def calibration(self) -> Calibration | None:
        """An operator's engine's calibration, as configured (a built-in's is its own)."""
        if self.threshold is None:
            return None
        return Calibration(self.threshold, self.margin, self.threshold + 2 * self.margin)

    @property
    def key(self) -> str:
        if self.type == "onnx":
            return f"onnx-{str(self.sha256)[:16]}"
        return self.type


# ------------------------------------------------------------------------------- alignment

# Where the eye centres, nose tip and mouth corners of a face fall in a 112 x 112 crop, as
# MobileFaceNet and ArcFace-style models are trained (the widely used five-point template).
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]],
    np.float32,
)  # fmt: skip
# dlib's 5-point model marks the base of the nose, not its tip, and no mouth: the base falls
# here in the same crop (the mean over the development photos aligned by 68 points).
NOSE_BASE_112 = np.array([55.8, 80.3], np.float32)


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation, uniform scale and shift that best maps `source` points onto `target`
    (least squares, Umeyama's method), as a 2 x 3 matrix for cv2.warpAffine."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(source))
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / s.var(0).sum()
    shift = mu_t - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, None]]).astype(np.float32)


def align(image: np.ndarray, face: FaceShape, side: int) -> np.ndarray:
    """The face warped onto the five-point template at `side` x `side` pixels: by the eyes
    and the nose base with 5 points, by eyes, nose tip and mouth corners with 68."""
    left, right = face.eyes()
    if len(face.points) == 5:
        source = np.stack([left, right, face.points[NOSE_5]])
        target = np.stack([TEMPLATE_112[0], TEMPLATE_112[1], NOSE_BASE_112])
    else:
        mouth = face.points[list(MOUTH_68)]
        source = np.stack([left, right, face.points[NOSE_TIP_68], *mouth])
        target = TEMPLATE_112
    matrix = similarity(source.astype(np.float32), target * (side / 112))
    return cv2.warpAffine(image, matrix, (side, side), borderMode=cv2.BORDER_REPLICATE)


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# --------------------------------------------------------------------------------- engines


class DlibEngine:
    """face_recognition's model: dlib's chip (150 px, aligned by the same 5 points), the
    ResNet's 128 numbers, scaled to unit length."""

    info = EngineInfo("dlib", "dlib", "dlib_face_recognition_resnet_model_v1", 128)
    # Frozen at FNIR 0 / FPIR 0 on the Western set: on the East-Asian set no threshold
    # serves, and the risk gate keeps a face alone off there (docs/faces.md, the table).
    calibration = Calibration(threshold=0.38, margin=0.035, look_alike=0.45)

    def __init__(self, encoder: Any, dlib: Any) -> None:
        self._encoder = encoder
        self._dlib = dlib
        self._lock = threading.Lock()  # one network for every lane and request thread

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> DlibEngine:
        try:
            fr = face_recognition_module()
            import dlib  # noqa: PLC0415 (after the install check)
        except (InstallError, RuntimeError, ImportError) as exc:  # a broken or damaged install
            raise EngineError(f"the dlib engine cannot load ({exc}): run make install") from exc
        return cls(fr.api.face_encoder, dlib)

    def encode(self, image: np.ndarray, faces: Sequence[FaceShape]) -> list[np.ndarray]:
        dlib = self._dlib
        image = np.ascontiguousarray(image)
        templates = []
        for face in faces:
            top, right, bottom, left = face.box
            shape = dlib.full_object_detection(
                dlib.rectangle(left, top, right, bottom),
                [dlib.point(int(x), int(y)) for x, y in np.rint(face.points)],
            )
            # dlib cuts and aligns its own 150 px chip from these points (padding 0.25).
            with self._lock:
                descriptor = self._encoder.compute_face_descriptor(image, shape)
            templates.append(unit(np.array(descriptor)))
        return templates


class _Network(Protocol):
    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class AlignedEngine:
    """A network fed faces aligned on the five-point template, a batch at a time."""

    def __init__(
        self,
        info: EngineInfo,
        calibration: Calibration,
        network: _Network,
        *,
        side: int = 112,
        batch: int = 1,
        normalise: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.info = info
        self.calibration = calibration
        self._network = network
        self._side = side
        self._batch = batch
        self._normalise = normalise
        self._lock = threading.Lock()  # the runtimes' sessions are not for two threads

    def encode(self, image: np.ndarray, faces: Sequence[FaceShape]) -> list[np.ndarray]:
        crops = [self._normalise(align(image, face, self._side)) for face in faces]
        templates: list[np.ndarray] = []
        for start in range(0, len(crops), self._batch):
            chunk = crops[start : start + self._batch]
            padded = chunk + [chunk[-1]] * (self._batch - len(chunk))  # a fixed batch
            with self._lock:
                out = self._network(np.stack(padded))
            templates.extend(unit(out[: len(chunk)]))
        return templates


def _mobilefacenet(settings: EngineSettings) -> AlignedEngine:
    if not settings.accept_model_terms:
        raise EngineError(
            "the mobilefacenet engine's model has restrictive terms (docs/faces.md): set "
            "accept_model_terms = true to use it knowingly, or use the dlib engine"
        )
    path = settings.model_path or mobilefacenet_model.installed_path()
    try:
        mobilefacenet_model.verify(path)
    except ModelError as exc:
        raise EngineError(str(exc)) from exc
    network = _litert(path, batch=2, side=112, length=192)
    info = EngineInfo("mobilefacenet", "mobilefacenet", mobilefacenet_model.VERSION, 192)
    return AlignedEngine(
        info, MOBILEFACENET, network, batch=2, normalise=lambda c: (c - 127.5) / 128.0
    )


# FPIR 0 in every fold left out (docs/faces.md, the table), at the threshold where the risk
# bound of a 22-resident East-Asian gallery stays under the 1% default limit.
MOBILEFACENET = Calibration(threshold=0.82, margin=0.05, look_alike=0.92)


def _litert(path: Path, *, batch: int, side: int, length: int) -> _Network:
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 (opt-in engine)
    except ImportError as exc:
        raise EngineError("ai-edge-litert is not installed: run make install") from exc
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    [given] = interpreter.get_input_details()
    [taken] = interpreter.get_output_details()
    shapes = (list(given["shape"]), list(taken["shape"]))
    if shapes != ([batch, side, side, 3], [batch, length]):
        raise EngineError(f"{path} takes and gives {shapes}, not this engine's model's shapes")

    def run(batch: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(given["index"], batch.astype(np.float32))
        interpreter.invoke()
        return np.array(interpreter.get_tensor(taken["index"]))

    return run


def _onnx(settings: EngineSettings) -> AlignedEngine:
    path, expected = settings.model_path, settings.sha256
    assert path is not None and expected is not None and settings.threshold is not None
    try:
        check_file(
            path,
            expected,
            missing="fix the onnx engine's model_path",
            wrong="restore the licensed file, or configure its checksum knowingly",
        )
    except ModelError as exc:
        raise EngineError(f"the onnx engine's model: {exc}") from exc
    network = _onnx_session(path, settings)
    network(np.zeros((1, settings.input_size, settings.input_size, 3), np.float32))  # its shape
    info = EngineInfo(settings.key, "onnx", expected, settings.length)
    calibration = settings.calibration()
    assert calibration is not None  # an onnx engine's settings require its threshold
    channels = slice(None, None, -1) if settings.bgr else slice(None)

    def normalise(crop: np.ndarray) -> np.ndarray:
        return (crop[:, :, channels].astype(np.float32) - settings.mean) / settings.std

    return AlignedEngine(info, calibration, network, side=settings.input_size, normalise=normalise)


def _onnx_session(path: Path, settings: EngineSettings) -> _Network:
    import onnxruntime  # noqa: PLC0415 (only for this engine)

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise EngineError(f"the onnx engine's model {path} does not load: {exc}") from exc
    [given] = session.get_inputs()

    def run(batch: np.ndarray) -> np.ndarray:
        data = batch.transpose(0, 3, 1, 2) if settings.layout == "nchw" else batch
        [out, *_] = session.run(None, {given.name: data.astype(np.float32)})
        out = np.asarray(out).reshape(len(batch), -1)
        if out.shape[1] != settings.length:
            raise EngineError(f"the onnx model gives {out.shape[1]} numbers, not {settings.length}")
        return out

    return run


ENGINES: dict[str, Callable[[EngineSettings], TemplateEngine]] = {
    "dlib": DlibEngine.from_settings,
    "mobilefacenet": _mobilefacenet,
    "onnx": _onnx,
}


def build_engine(settings: EngineSettings) -> TemplateEngine:
    """The engine `settings` describe, its model loaded and checked (raises EngineError,
    whatever went wrong: a daemon that cannot build one goes on without face lanes)."""
    try:
        return ENGINES[settings.type](settings)
    except EngineError:
        raise
    except Exception as exc:  # a runtime's own error for a file it cannot use
        raise EngineError(f"the {settings.type} engine cannot start: {exc!r}") from exc


def calibration_of(key: str) -> Calibration | None:
    """The frozen calibration of a built-in engine by its key (None for an operator's)."""
    return {"dlib": DlibEngine.calibration, "mobilefacenet": MOBILEFACENET}.get(key)


def encode_largest_face(
    engine: TemplateEngine, image: np.ndarray, landmarker: Landmarker, upsample: int = 1
) -> np.ndarray | None:
    """The template of the largest face in an RGB image, or None where no face is found."""
    boxes = landmarker.find(image, upsample)
    if not boxes:
        return None
    largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    return engine.encode(image, landmarker.shapes(image, [largest], points=5))[0]
