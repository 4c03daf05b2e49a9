"""Template engines with the real models on real photos and the real video (skipped without
../shared/fixtures); on the slow list, as the face lane's video runs are."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from anju.faces.engines import (
    EngineSettings,
    TemplateEngine,
    build_engine,
    encode_largest_face,
)
from anju.faces.landmarks import Landmarker
from edge.decide import FaceEvidence
from edge.faces.gallery import FaceGallery
from edge.faces.pipeline import FaceLane, Matcher
from hub.faces import encode_photos

EXAMPLES = "faces/face_recognition/examples"


@pytest.fixture(scope="module", params=["dlib", "mobilefacenet"])
def engine(request: pytest.FixtureRequest) -> TemplateEngine:
    return build_engine(EngineSettings(type=request.param, accept_model_terms=True))


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_one_photo_gives_the_same_template_at_the_hub_and_at_the_lane(
    engine: TemplateEngine, fixtures_dir: Path
) -> None:
    photo = fixtures_dir / EXAMPLES / "lin-manuel-miranda.png"
    [enrolled] = encode_photos([photo.read_bytes()], [engine]).templates[engine.info.key]

    def admit(evidence: object) -> bool:
        return False

    lane = FaceLane("in", engine, lambda: _single(enrolled, engine), admit)
    frame = cv2.imread(str(photo))
    lane.on_frame(frame, 0.0)
    lane.on_frame(frame, 0.03)
    seen = [t.last_encoding for t in lane._tracks if t.last_encoding is not None]
    assert seen, "the lane encoded the face"
    distance = float(np.linalg.norm(seen[0] - enrolled))
    assert distance < 0.2 * engine.calibration.threshold  # the same face, the same template
    assert enrolled.shape == (engine.info.length,)
    assert abs(float(np.linalg.norm(enrolled)) - 1) < 1e-4


def _single(template: np.ndarray, engine: TemplateEngine):
    from edge.faces.gallery import FaceGallery  # noqa: PLC0415

    return FaceGallery(template[None], ["p-lin"], calibration=engine.calibration)


def test_the_engines_tell_two_people_apart(engine: TemplateEngine, fixtures_dir: Path) -> None:
    landmarker = Landmarker()
    obama = [
        encode_largest_face(engine, _rgb(fixtures_dir / EXAMPLES / name), landmarker)
        for name in ("obama.jpg", "obama2.jpg")
    ]
    biden = encode_largest_face(engine, _rgb(fixtures_dir / EXAMPLES / "biden.jpg"), landmarker)
    assert obama[0] is not None and obama[1] is not None and biden is not None
    same = float(np.linalg.norm(obama[0] - obama[1]))
    other = float(np.linalg.norm(obama[0] - biden))
    assert same < engine.calibration.threshold < other


def test_a_person_not_yet_enrolled_for_the_lanes_engine_is_named_by_the_older_one(
    fixtures_dir: Path,
) -> None:
    """The lane runs MobileFaceNet; the video's person has only a dlib template (enrolled
    before the change): dlib names him, and he is sent to re-enrol."""
    mobilefacenet = build_engine(EngineSettings(type="mobilefacenet", accept_model_terms=True))
    dlib = build_engine(EngineSettings())
    landmarker = Landmarker()
    photos = {name: _rgb(fixtures_dir / EXAMPLES / f"{name}.jpg") for name in ("obama", "biden")}
    lin = encode_largest_face(
        dlib, _rgb(fixtures_dir / EXAMPLES / "lin-manuel-miranda.png"), landmarker
    )
    assert lin is not None
    new = FaceGallery(
        np.stack([encode_largest_face(mobilefacenet, p, landmarker) for p in photos.values()]),
        list(photos),
        calibration=mobilefacenet.calibration,
    )
    old = FaceGallery(lin[None], ["p-lin"], calibration=dlib.calibration)
    asked: list[FaceEvidence] = []
    lane = FaceLane(
        "in", mobilefacenet, lambda: new, lambda e: asked.append(e) or False,
        older=Matcher(dlib, lambda: old),
    )  # fmt: skip
    capture = cv2.VideoCapture(str(fixtures_dir / "video/short_hamilton_clip.mp4"))
    for index in range(120):
        ok, frame = capture.read()
        assert ok
        lane.on_frame(frame, index / 29.97)
        if asked:
            break
    assert [(e.person_id, e.engine, e.re_enrol) for e in asked] == [("p-lin", "dlib", True)]
