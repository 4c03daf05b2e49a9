"""The edge's cameras, each with its lane: a face lane (its engine's gallery, and during a
change of engine dlib's for the people not yet enrolled again) or a plate lane; a face
lane's prompts also go to the lane's screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from anju.faces.engines import TemplateEngine
from edge.admission import Admission, Lane
from edge.cameras import CameraWorker, FrameLane, Source
from edge.capture import FrameSource
from edge.config import CameraSection
from edge.decide import FaceEvidence, PlateEvidence
from edge.display import DisplayedLane, LaneDisplays, for_face
from edge.faces.gallery import RegistryGallery
from edge.faces.pipeline import FaceLane, Matcher
from edge.faces.unknown import UnknownFaces
from edge.metrics import EdgeMetrics
from edge.plates.engines import text_engine
from edge.plates.lane import PlateLane, Snapshot
from edge.plates.reader import PlateReader
from edge.plates.vote import PlateVoter
from edge.registry import RegistryCache
from edge.snapshots import SnapshotListener


@dataclass(frozen=True)
class FaceEngines:
    """The face lanes' engine, and dlib's while people re-enrol (None: no face lanes run)."""

    engine: TemplateEngine | None
    older: TemplateEngine | None = None


@dataclass(frozen=True)
class CameraParts:
    admission: Admission
    registry: Callable[[], RegistryCache]
    faces: FaceEngines
    unknown: UnknownFaces
    displays: LaneDisplays
    metrics: EdgeMetrics | None
    snapshots: SnapshotListener | None
    keep_plates: bool  # plate lanes' decision snapshots


def camera_workers(sections: list[CameraSection], parts: CameraParts) -> list[CameraWorker]:
    """A worker for each camera (not started); face cameras only with a face engine."""
    workers = []
    observe = parts.metrics.frame if parts.metrics is not None else None
    for section in sections:
        if section.kind == "face" and parts.faces.engine is None:
            continue  # no usable face model: cards, PINs and QR codes go on
        lane = Lane(section.gate_id, section.lane, section.direction)
        workers.append(
            CameraWorker(_source(section, parts), _displayed(section, lane, parts), observe)
        )
    return workers


def _source(section: CameraSection, parts: CameraParts) -> Source:
    if section.source == "push" and parts.snapshots is not None:
        return parts.snapshots.sources[section.id]
    return FrameSource(section.source, section.id)


def _displayed(section: CameraSection, lane: Lane, parts: CameraParts) -> FrameLane:
    camera_lane = _camera_lane(section, lane, parts)
    display = parts.displays.at(lane.gate_id, lane.lane)
    if display is None or not isinstance(camera_lane, FaceLane):
        return camera_lane
    return DisplayedLane(camera_lane, display, for_face)


def _camera_lane(section: CameraSection, lane: Lane, parts: CameraParts) -> FaceLane | PlateLane:
    admission = parts.admission

    def admit(evidence: FaceEvidence | PlateEvidence, snapshot: Snapshot | None = None) -> bool:
        admitted = admission.admit(lane, evidence, snapshot if parts.keep_plates else None)
        return admitted.verdict.granted and admitted.opened

    engine = parts.faces.engine
    if section.kind == "face" and engine is not None:
        return _face_lane(section, lane, engine, admit, parts)
    reader = PlateReader(text_engine(section.plate_engine))
    return PlateLane(section.id, reader, PlateVoter(), admit)


def _face_lane(
    section: CameraSection,
    lane: Lane,
    engine: TemplateEngine,
    admit: Callable[[FaceEvidence], bool],
    parts: CameraParts,
) -> FaceLane:
    admission, unknown = parts.admission, parts.unknown

    def unknown_face(template: np.ndarray) -> None:
        admission.unknown_face(lane, unknown.pseudonym(template))

    def unusable_face(why: str) -> None:
        admission.unusable_face(lane, why)

    gallery = RegistryGallery(
        parts.registry, engine.info.key, engine.calibration, length=engine.info.length
    )
    return FaceLane(
        section.id,
        engine,
        gallery,
        admit,
        unknown=unknown_face,
        unusable=unusable_face,
        older=_older_matcher(engine, parts),
    )


def _older_matcher(engine: TemplateEngine, parts: CameraParts) -> Matcher | None:
    """Where the lanes run another engine than dlib's: dlib, for the people enrolled before
    the change and not yet again (sent to the second factor, told to re-enrol)."""
    older = parts.faces.older
    if older is None:
        return None
    gallery = RegistryGallery(
        parts.registry,
        "dlib",
        older.calibration,
        length=older.info.length,
        only_without=engine.info.key,
    )
    return Matcher(older, gallery)
