"""Liveness against still images: a printed photo or a picture on a screen, held still or
moved by hand, never opens the gate.

A still image moves only as a flat thing moves: its 68 landmarks, frame after frame, are an
affine image of the first frame's (shift, scale, rotation, tilt), up to detector noise. A live
face does not stay affine: it blinks, talks, changes expression, and turns in depth (the nose
moves against the cheeks). So each frame's landmarks are fitted to the track's first by least
squares with an affine map, and the residual, relative to the distance between the eyes,
measures what a flat picture cannot do. A track is live once the residual exceeds
`MIN_RESIDUAL` in `MIN_FRAMES` frames in which the face was checked to be the person (one
photo swapped for another's moves as much as a live face: fixtures measured 0.11 between two
people's landmarks). A jump between two consecutive frames beyond `MAX_JUMP` (the live video:
at most 0.09) starts the track afresh.

What this does not claim: a replayed video of the person is out of scope (it is live motion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_RESIDUAL = 0.06  # of the inter-ocular distance: stills, moved, scaled, rotated or tilted
# in perspective, stayed under 0.036 on the fixtures; the live video went over 0.08
MIN_FRAMES = 3
MAX_JUMP = 0.25  # between consecutive frames, of the inter-ocular distance
ORDER = (
    "chin",
    "left_eyebrow",
    "right_eyebrow",
    "nose_bridge",
    "nose_tip",
    "left_eye",
    "right_eye",
    "top_lip",
    "bottom_lip",
)


def landmark_array(landmarks: dict[str, list[tuple[int, int]]]) -> np.ndarray:
    """face_recognition's landmark dict as one (68+, 2) array in a fixed order."""
    return np.asarray([p for name in ORDER for p in landmarks[name]], dtype=np.float64)


@dataclass
class LivenessTrack:
    """The landmarks of one face over frames. `observe` measures a frame against the first;
    the caller `count`s a moving frame once it has checked that the face in it is still the
    person (a photo swapped for another's moves too)."""

    reference: np.ndarray | None = None
    previous: np.ndarray | None = None
    moving: int = 0
    swaps: int = 0

    def observe(self, landmarks: dict[str, list[tuple[int, int]]]) -> float | None:
        """This frame's residual (None for the first frame); `swapped` says when the frame
        jumped too far from the last to be the same face, and the track started afresh."""
        points = landmark_array(landmarks)
        iod = _inter_ocular(landmarks)
        if iod <= 0:
            return None
        jump = None if self.previous is None else _affine_residual(self.previous, points) / iod
        self.previous = points
        if self.reference is None or (jump is not None and jump > MAX_JUMP):
            if self.reference is not None:
                self.swaps += 1
            self.reference, self.moving = points, 0
            return None
        return _affine_residual(self.reference, points) / iod

    def rebase(self) -> None:
        """Measure from the last frame on (the frame in which the face was identified), so
        that no evidence comes from a face seen before it."""
        self.reference, self.moving = self.previous, 0

    @staticmethod
    def moves(residual: float | None) -> bool:
        return residual is not None and residual > MIN_RESIDUAL

    def count(self) -> None:
        self.moving += 1

    @property
    def live(self) -> bool:
        return self.moving >= MIN_FRAMES


def _affine_residual(reference: np.ndarray, points: np.ndarray) -> float:
    """RMS distance left after the best affine map from `reference` onto `points`."""
    design = np.hstack([reference, np.ones((len(reference), 1))])
    solution, *_ = np.linalg.lstsq(design, points, rcond=None)
    residual = points - design @ solution
    return float(np.sqrt((residual**2).sum(axis=1).mean()))


def _inter_ocular(landmarks: dict[str, list[tuple[int, int]]]) -> float:
    left = np.mean(landmarks["left_eye"], axis=0)
    right = np.mean(landmarks["right_eye"], axis=0)
    return float(np.linalg.norm(left - right))
