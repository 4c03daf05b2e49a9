"""The edge's clock against the hub's: pass windows, schedules and anti-passback depend on it.

Every registry pull also asks the hub for its time; the offset (hub minus edge, corrected for
half the round trip) is applied to every decision's time, reported in the edge's status, and
alarmed when larger than `max_offset_s` (the edge's own time service is failing). Until an
offset has been measured, or when the last measurement is older than `max_age_s` (a long
outage), time-dependent decisions are flagged `clock_untrusted`. An edge configured without a
hub has no reference and trusts its own clock (keep NTP running on it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.errors import ConfigError


def system_time() -> datetime:
    return datetime.now(UTC)


class ReplayTime:
    """The time a simulator writes into a file: a simulated day plays in minutes through the
    real edge. Never for a gate in service (the edge then trusts no one but the file)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __call__(self) -> datetime:
        try:
            at = datetime.fromisoformat(self._path.read_text(encoding="ascii").strip())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"replay clock {self._path}: {exc}") from exc
        if at.tzinfo is None:
            raise ConfigError(f"replay clock {self._path}: the time has no offset")
        return at.astimezone(UTC)


@dataclass(frozen=True)
class ClockReading:
    now: datetime
    trusted: bool
    offset_s: float | None


class EdgeClock:
    def __init__(
        self,
        *,
        reference: bool,
        max_offset_s: float,
        max_age_s: float,
        source: Callable[[], datetime] = system_time,
    ) -> None:
        self._source = source
        self._reference = reference
        self._max_offset_s = max_offset_s
        self._max_age_s = max_age_s
        self._offset_s: float | None = None
        self._measured_at: float | None = None
        self._lock = threading.Lock()

    def record(self, sent: float, hub_time: datetime, received: float) -> bool:
        """One measurement: `sent` and `received` are this edge's `time.time()` around the
        request that returned `hub_time`. True when the offset is beyond `max_offset_s`."""
        offset = hub_time.timestamp() - (sent + received) / 2
        with self._lock:
            self._offset_s = offset
            self._measured_at = time.monotonic()
        return abs(offset) > self._max_offset_s

    def read(self) -> ClockReading:
        with self._lock:
            offset, measured_at = self._offset_s, self._measured_at
        now = self._source()
        if not self._reference:
            return ClockReading(now, True, None)
        if offset is None or measured_at is None:
            return ClockReading(now, False, None)
        fresh = time.monotonic() - measured_at <= self._max_age_s
        return ClockReading(now + timedelta(seconds=offset), fresh, offset)
