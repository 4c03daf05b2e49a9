"""Opening hours for a kind of person at a gate, e.g. delivery staff from 7 to 21, Monday to
Saturday: ``"mon-sat 07:00-21:00"``. Days are optional (every day); a window may run past
midnight (``"22:00-06:00"``); the end is exclusive. Times are the compound's local time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"^(?:(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+)?"
    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 is Monday
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW.match(text.strip().lower())
        if match is None:
            raise ValueError(f"schedule {text!r}: expected e.g. 'mon-fri 07:00-21:00'")
        days = _days(match["first"], match["last"])
        start, end = _clock(match["start"]), _clock(match["end"])
        if start == end:
            raise ValueError(f"schedule {text!r}: an empty window")
        return cls(days, start, end)

    def contains(self, local: datetime) -> bool:
        """Whether `local` (the compound's local time) falls in this window. A window past
        midnight belongs to the day it starts on."""
        moment, day = local.time(), local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= moment < self.end
        if moment >= self.start:
            return day in self.days
        return (day - 1) % 7 in self.days and moment < self.end


def _days(first: str | None, last: str | None) -> frozenset[int]:
    if first is None:
        return frozenset(range(7))
    if first not in DAYS or (last is not None and last not in DAYS):
        raise ValueError(f"unknown day in {first}-{last}; days are {', '.join(DAYS)}")
    a = DAYS.index(first)
    b = a if last is None else DAYS.index(last)
    return frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))


def _clock(text: str) -> time:
    hours, minutes = int(text[:2]), int(text[3:])
    if hours == 24 and minutes == 0:
        return time.max
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text} is not a time of day")
    return time(hours, minutes)
