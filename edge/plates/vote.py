"""One plate per vehicle from the reads of several frames.

A lane's reads are grouped into vehicles: a read that shares all but one character with the
vehicle's reads so far belongs to it; a gap of `gap_s` without reads ends the vehicle. The
vehicle's plate is the number read most often (ties: the higher total score), decided once it
has `agree` reads, and decided at most once per vehicle.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from edge.plates.reader import PlateRead


@dataclass
class _Vehicle:
    last_seen: float
    counts: Counter[str] = field(default_factory=Counter)
    scores: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    decided: bool = False

    def add(self, read: PlateRead, now: float) -> None:
        self.counts[read.number] += 1
        self.scores[read.number] += read.score
        self.last_seen = now

    def best(self) -> tuple[str, int]:
        number = max(self.counts, key=lambda n: (self.counts[n], self.scores[n]))
        return number, self.counts[number]

    def resembles(self, number: str) -> bool:
        return any(_near(number, known) for known in self.counts)


@dataclass
class PlateVoter:
    agree: int = 3
    gap_s: float = 2.0
    _vehicles: list[_Vehicle] = field(default_factory=list)

    def add(self, reads: list[PlateRead], now: float) -> list[str]:
        """The plates decided by these reads (usually none, at most one per vehicle)."""
        self._vehicles = [v for v in self._vehicles if now - v.last_seen <= self.gap_s]
        decided = []
        for read in reads:
            vehicle = next((v for v in self._vehicles if v.resembles(read.number)), None)
            if vehicle is None:
                vehicle = _Vehicle(last_seen=now)
                self._vehicles.append(vehicle)
            vehicle.add(read, now)
            number, count = vehicle.best()
            if not vehicle.decided and count >= self.agree:
                vehicle.decided = True
                decided.append(number)
        return decided


def _near(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) <= 1
