"""A vehicle lane watched by a camera: frames in, one decision per vehicle out.

Each frame is read (`PlateReader`), the reads are voted on per vehicle (`PlateVoter`), and a
decided plate is admitted like any other evidence: a resident's plate opens, a visitor's
pre-registered plate opens inside its pass's window, an unknown plate is denied (and shows in
the guard booth's waiting list), a watchlisted plate raises an alert. The decision's picture
is the plate as read, cropped from the frame that decided it (kept when the edge keeps
them, `edge.evidence`). A frame that cannot be read is logged and skipped; the lane goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.decide import PlateEvidence
from edge.evidence import plate_crop
from edge.plates.ocr import Box
from edge.plates.reader import PlateReader
from edge.plates.vote import PlateVoter, Vote

logger = logging.getLogger(__name__)
Snapshot = Callable[[], bytes]  # makes the decision's picture (a JPEG) when asked


@dataclass(frozen=True)
class Decided:
    number: str
    granted: bool


class PlateLane:
    def __init__(
        self,
        name: str,
        reader: PlateReader,
        voter: PlateVoter,
        admit: Callable[[PlateEvidence, Snapshot | None], bool],
    ) -> None:
        self.name = name
        self._reader = reader
        self._voter = voter
        self._admit = admit

    def on_frame(self, frame: np.ndarray, now: float) -> list[Decided]:
        try:
            reads = self._reader.read(frame)
        except Exception:  # a frame the engine chokes on must not stop the lane
            logger.exception("lane %s: a frame could not be read", self.name)
            return []
        votes = self._voter.add(reads, now)
        return [d for vote in votes if (d := self._decide(vote, _crop(frame, vote.box)))]

    def _decide(self, vote: Vote, snapshot: Snapshot | None) -> Decided | None:
        try:
            granted = self._admit(PlateEvidence(vote.number, vote.score), snapshot)
        except Exception:  # the lane goes on; the admission logs its own failures
            logger.exception("lane %s: %s could not be decided", self.name, vote.number)
            return None
        logger.info("lane %s: %s %s", self.name, vote.number, "granted" if granted else "denied")
        return Decided(vote.number, granted)


def _crop(frame: np.ndarray, box: Box | None) -> Snapshot | None:
    """The plate's picture, made only if the edge keeps it."""
    if box is None:
        return None
    return lambda: plate_crop(frame, box)
