"""One plate per vehicle from the reads of several frames.

A lane's reads are grouped into vehicles: a read belongs to the vehicle whose leading number
it equals or differs from by one character (a misread), one vehicle per read within a frame
(two cars in one frame are two vehicles); a gap of `gap_s` without reads ends the vehicle.
The vehicle's plate is the number read most often (ties: the higher total score), decided
once it has `agree` reads, at most once per vehicle. A read one character from a vehicle
that is already decided, under another number, starts a vehicle of its own (the next car of
a fleet with consecutive plates).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from edge.plates.ocr import Box
from edge.plates.reader import PlateRead
from models.plates import within_one


@dataclass(frozen=True)
class Vote:
    number: str
    score: float  # the best score among the reads of that number
    box: Box | None = None  # where the read that decided it is, in its frame


@dataclass
class _Vehicle:
    last_seen: float
    counts: Counter[str] = field(default_factory=Counter)
    scores: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    best_score: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    decided: str | None = None

    def add(self, read: PlateRead, now: float) -> None:
        self.counts[read.number] += 1
        self.scores[read.number] += read.score
        self.best_score[read.number] = max(self.best_score[read.number], read.score)
        self.last_seen = now

    def leader(self) -> str:
        return max(self.counts, key=lambda n: (self.counts[n], self.scores[n]))

    def takes(self, number: str) -> bool:
        if self.decided is not None and number != self.decided:
            return False
        return within_one(number, self.leader())


@dataclass
class PlateVoter:
    agree: int = 3
    gap_s: float = 2.0
    _vehicles: list[_Vehicle] = field(default_factory=list)

    def add(self, reads: list[PlateRead], now: float) -> list[Vote]:
        """The plates decided by these reads (usually none, at most one per vehicle)."""
        self._vehicles = [v for v in self._vehicles if now - v.last_seen <= self.gap_s]
        used: set[int] = set()
        decided = []
        for read in reads:
            vehicle = next(
                (v for v in self._vehicles if id(v) not in used and v.takes(read.number)), None
            )
            if vehicle is None:
                vehicle = _Vehicle(last_seen=now)
                self._vehicles.append(vehicle)
            used.add(id(vehicle))
            vehicle.add(read, now)
            number = vehicle.leader()
            if vehicle.decided is None and vehicle.counts[number] >= self.agree:
                vehicle.decided = number
                decided.append(Vote(number, vehicle.best_score[number], read.box))
        return decided
