"""What this edge counts on its own, on disk: entries used per visitor pass, the last
direction each subject passed (for anti-passback), and the guard commands carried out. It
survives restarts; while the hub answers, the pass counts that matter are the hub's (see
`edge.claims`)."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from models.events import AuditHead, Direction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pass_entries (pass_id TEXT PRIMARY KEY, entries INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands (command_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (
    one INTEGER PRIMARY KEY CHECK (one = 1), record INTEGER NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    subject_id TEXT PRIMARY KEY, direction TEXT NOT NULL, gate_id TEXT NOT NULL, at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Passage:
    direction: Direction
    at: datetime
    gate_id: str = ""


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def pass_entries(self, pass_id: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT entries FROM pass_entries WHERE pass_id = ?", (pass_id,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def take_entry(self, pass_id: str, max_entries: int) -> bool:
        """One more entry on `pass_id` if it has one left; False when it has none."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO pass_entries VALUES (?, 1) ON CONFLICT(pass_id) DO UPDATE"
                " SET entries = entries + 1 WHERE entries < ? RETURNING entries",
                (pass_id, max_entries),
            ).fetchone()
        return row is not None and max_entries >= 1

    def note_entries(self, pass_id: str, entries: int) -> None:
        """The hub's count: this edge's count never falls below it."""
        with self._lock:
            self._db.execute(
                "INSERT INTO pass_entries VALUES (?, ?) ON CONFLICT(pass_id) DO UPDATE"
                " SET entries = max(entries, excluded.entries)",
                (pass_id, entries),
            )

    def last_direction(self, subject_id: str) -> Direction | None:
        last = self.last_passage(subject_id)
        return None if last is None else last.direction

    def last_passage(self, subject_id: str) -> Passage | None:
        with self._lock:
            row = self._db.execute(
                "SELECT direction, at, gate_id FROM passages WHERE subject_id = ?", (subject_id,)
            ).fetchone()
        return None if row is None else _passage(row)

    def record_passage(self, subject_id: str, passage: Passage) -> None:
        with self._lock:
            self._write_passage(subject_id, passage)

    def withdraw_passage(self, subject_id: str, ours: Passage, previous: Passage | None) -> None:
        """Put back `previous` where `ours` was recorded for a grant that did not stand (its
        pass was used up at another gate meanwhile); a later passage stays."""
        with self._lock:
            row = self._db.execute(
                "SELECT direction, at, gate_id FROM passages WHERE subject_id = ?", (subject_id,)
            ).fetchone()
            if row is None or _passage(row) != ours:
                return
            if previous is None:
                self._db.execute("DELETE FROM passages WHERE subject_id = ?", (subject_id,))
            else:
                self._write_passage(subject_id, previous)

    def _write_passage(self, subject_id: str, passage: Passage) -> None:
        self._db.execute(
            "INSERT INTO passages VALUES (?, ?, ?, ?) ON CONFLICT(subject_id) DO UPDATE"
            " SET direction = excluded.direction, gate_id = excluded.gate_id, at = excluded.at",
            (subject_id, passage.direction.value, passage.gate_id, passage.at.isoformat()),
        )

    def keep_audit_head(self, head: AuditHead) -> None:
        """Keep the hub's audit head if it is newer than the one kept: a head that goes back
        (a chain whose tail was cut) never replaces a later one."""
        with self._lock:
            self._db.execute(
                "INSERT INTO audit_head VALUES (1, ?, ?) ON CONFLICT(one) DO UPDATE"
                " SET record = excluded.record, hash = excluded.hash"
                " WHERE excluded.record > audit_head.record",
                (head.record, head.hash),
            )

    def audit_head(self) -> AuditHead | None:
        with self._lock:
            row = self._db.execute("SELECT record, hash FROM audit_head").fetchone()
        return None if row is None else AuditHead(record=row[0], hash=row[1])

    def first_time(self, command_id: str) -> bool:
        """Record the id of a guard's command or of a request for a snapshot; False if it was
        recorded before (a replay). Ids older than a day are forgotten (both are valid for
        30 s)."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM commands WHERE at < ?", (now - 86_400,))
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO commands VALUES (?, ?)", (command_id, now)
            ).rowcount
        return inserted == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _passage(row: tuple[str, str, str]) -> Passage:
    return Passage(Direction(row[0]), datetime.fromisoformat(row[1]), row[2])
