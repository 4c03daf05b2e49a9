"""PIN guessing at a reader: after `limit` wrong PINs in a row within `window_s`, the reader
takes no PINs for `lock_s` (cards still work), and the edge raises one alarm per lockout."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PinGuard:
    limit: int = 5
    window_s: float = 300.0
    lock_s: float = 300.0
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, reader: str, now: float) -> bool:
        return self._locked_until.get(reader, 0.0) > now

    def record(self, reader: str, granted: bool, now: float) -> bool:
        """Count a PIN's outcome; True when this failure starts a lockout."""
        if granted:
            self._failures.pop(reader, None)
            return False
        recent = [t for t in self._failures.get(reader, []) if now - t <= self.window_s]
        recent.append(now)
        if len(recent) < self.limit:
            self._failures[reader] = recent
            return False
        self._failures.pop(reader, None)
        self._locked_until[reader] = now + self.lock_s
        return True
