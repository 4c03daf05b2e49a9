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
from edge.plates.vote import PlateVoter, Vote

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

    def on_frame(self, frame: np.ndarray, now: float) -> list[Decided]:
        try:
            reads = self._reader.read(frame)
        except Exception:  # a frame the engine chokes on must not stop the lane
            logger.exception("lane %s: a frame could not be read", self.name)
            return []
        return [d for vote in self._voter.add(reads, now) if (d := self._decide(vote))]

    def _decide(self, vote: Vote) -> Decided | None:
        try:
            granted = self._admit(PlateEvidence(vote.number, vote.score))
        except Exception:  # the lane goes on; the admission logs its own failures
            logger.exception("lane %s: %s could not be decided", self.name, vote.number)
            return None
        logger.info("lane %s: %s %s", self.name, vote.number, "granted" if granted else "denied")
        return Decided(vote.number, granted)
