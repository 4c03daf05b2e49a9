"""Where a face is, and the points an engine aligns it by.

Faces are found with dlib's HOG detector (through face_recognition) and their points with
dlib's landmark models: the 5-point model (public domain) for alignment, which every engine
uses; the 68-point model (trained on iBUG 300-W, whose terms exclude commercial use) only
where the lane needs the whole face's outline (its liveness and turned-away checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from anju.doctor import require_face_stack

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)

# dlib's 5-point order: the image-right eye's two corners, the image-left eye's, the nose base.
RIGHT_EYE_5, LEFT_EYE_5, NOSE_5 = (0, 1), (2, 3), 4
# The 68-point model's eyes, nose tip and mouth corners.
LEFT_EYE_68, RIGHT_EYE_68, NOSE_TIP_68, MOUTH_68 = range(36, 42), range(42, 48), 30, (48, 54)


@dataclass(frozen=True)
class FaceShape:
    """A face in an image: its box and its landmarks in dlib's order (5 or 68 points)."""

    box: Box
    points: np.ndarray  # (5, 2) or (68, 2), x then y, in the image's pixels

    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """The image-left and image-right eye's centres."""
        if len(self.points) == 5:
            return self.points[list(LEFT_EYE_5)].mean(0), self.points[list(RIGHT_EYE_5)].mean(0)
        return self.points[list(LEFT_EYE_68)].mean(0), self.points[list(RIGHT_EYE_68)].mean(0)


def face_recognition_module() -> Any:
    """face_recognition, after the install check that keeps it from quitting the process."""
    require_face_stack()
    import face_recognition  # noqa: PLC0415 (after the guard)

    return face_recognition


class Landmarker:
    """dlib's landmark models, loaded on first use (never at import)."""

    def __init__(self) -> None:
        self._fr: Any = None

    def shapes(self, image: np.ndarray, boxes: list[Box], points: int = 5) -> list[FaceShape]:
        """The faces at `boxes` in an RGB image, with 5 or 68 points each."""
        fr = self._face_recognition()
        model = "small" if points == 5 else "large"
        raw = fr.api._raw_face_landmarks(image, boxes, model=model)
        return [
            FaceShape(box, np.array([(p.x, p.y) for p in shape.parts()], np.float32))
            for box, shape in zip(boxes, raw, strict=True)
        ]

    def find(self, image: np.ndarray, upsample: int = 0) -> list[Box]:
        return list(self._face_recognition().face_locations(image, upsample))

    def _face_recognition(self) -> Any:
        if self._fr is None:
            self._fr = face_recognition_module()
        return self._fr
