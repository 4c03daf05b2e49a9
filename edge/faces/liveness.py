"""Liveness against still images: a printed photo or a picture on a screen, held still or
moved by hand, never opens the gate.

A still image moves only as a flat thing moves: its 68 landmarks, frame after frame, are an
affine image of the first frame's (shift, scale, rotation, tilt), up to detector noise. A live
face does not stay affine: it blinks, talks, changes expression, and turns in depth (the nose
moves against the cheeks). So each frame's landmarks are fitted to the track's first by least
squares with an affine map, and the residual, relative to the distance between the eyes,
measures what a flat picture cannot do. A track is live once the residual exceeds
`MIN_RESIDUAL` in `MIN_FRAMES` frames, or an eye closes and opens (a blink).

What this does not claim: a replayed video of the person is out of scope (it is live motion).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_RESIDUAL = 0.06  # of the inter-ocular distance: stills, moved, scaled, rotated or tilted
# in perspective, stayed under 0.036 on the fixtures; the live video went over 0.08
MIN_FRAMES = 3
BLINK_DROP = 0.65  # an eye aspect ratio under 65% of the track's usual one is a closed eye
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
    reference: np.ndarray | None = None
    residuals: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    blinked: bool = False

    def add(self, landmarks: dict[str, list[tuple[int, int]]]) -> None:
        points = landmark_array(landmarks)
        iod = _inter_ocular(landmarks)
        if iod <= 0:
            return
        if self.reference is None:
            self.reference = points
        else:
            self.residuals.append(_affine_residual(self.reference, points) / iod)
        ratio = (_eye_ratio(landmarks["left_eye"]) + _eye_ratio(landmarks["right_eye"])) / 2
        if self.ratios and ratio < BLINK_DROP * float(np.median(self.ratios)):
            self.blinked = True
        self.ratios.append(ratio)

    @property
    def live(self) -> bool:
        moving = sum(r > MIN_RESIDUAL for r in self.residuals)
        return self.blinked or moving >= MIN_FRAMES

    @property
    def score(self) -> float:
        return max(self.residuals, default=0.0)


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


def _eye_ratio(eye: list[tuple[int, int]]) -> float:
    p = np.asarray(eye, dtype=np.float64)
    width = np.linalg.norm(p[0] - p[3])
    if width == 0:
        return 0.0
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * width))
