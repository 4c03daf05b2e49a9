"""A vehicle lane watched by a camera: frames in, one decision per vehicle out.

Each frame is read (`PlateReader`), the reads are voted on per vehicle (`PlateVoter`), and a
decided plate is admitted like any other evidence: a resident's plate opens, a visitor's
pre-registered plate opens inside its pass's window, an unknown plate is denied (and shows in
the guard booth's waiting list), a watchlisted plate raises an alert. A frame that cannot be
read is logged and skipped; the lane goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.decide import PlateEvidence
from edge.plates.reader import PlateReader
from edge.plates.vote import PlateVoter

logger = logging.getLogger(__name__)


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
        admit: Callable[[PlateEvidence], bool],
    ) -> None:
        self.name = name
        self._reader = reader
        self._voter = voter
        self._admit = admit
        self._scores: dict[str, float] = {}

    def on_frame(self, frame: np.ndarray, now: float) -> list[Decided]:
        try:
            reads = self._reader.read(frame)
        except Exception:  # a frame the engine chokes on must not stop the lane
            logger.exception("lane %s: a frame could not be read", self.name)
            return []
        for read in reads:
            self._scores[read.number] = max(read.score, self._scores.get(read.number, 0.0))
        return [self._decide(number) for number in self._voter.add(reads, now)]

    def _decide(self, number: str) -> Decided:
        confidence = self._scores.pop(number, None)
        granted = self._admit(PlateEvidence(number, confidence))
        logger.info("lane %s: %s %s", self.name, number, "granted" if granted else "denied")
        return Decided(number, granted)
