"""The durable outbox: every event is committed to disk before it is published.

SQLite in WAL mode with `synchronous=FULL`, so a committed event survives a power cut. A row
leaves only when the hub confirms that it has committed the event; until then it is re-sent
after a confirmation timeout (doubling with each attempt, up to 16 times the timeout, so a
slow hub is not buried in re-sends), after every reconnect, when the hub comes back, and
after a restart. `seq` is monotonic per
edge and `epoch` is chosen when the file is created, so a replaced disk starts a new epoch.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from edge.errors import OutboxError, OutboxFull
from models.events import OutboxHealth, Position

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    due_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at);
"""


@dataclass(frozen=True)
class PendingEvent:
    seq: int
    event_id: UUID
    payload: bytes


@dataclass(frozen=True)
class FillAlarm:
    """The outbox crossed `threshold` (a fraction of capacity) on the way up."""

    threshold: float
    rows: int
    capacity: int


Sealer = Callable[[Position], tuple[UUID, bytes]]


class Outbox:
    """Opened by `Outbox.open` (the file, its epoch and its count read there)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        edge_id: str,
        epoch: UUID,
        rows: int,
        capacity: int,
        alarm_thresholds: Sequence[float] = (0.8, 0.9),
    ) -> None:
        self._conn = conn
        self._closed = False
        self._path = path
        self._edge_id = edge_id
        self._epoch = epoch
        self._capacity = capacity
        # Reaching capacity always alarms: from then on new events are refused.
        self._thresholds = tuple(sorted({*alarm_thresholds, 1.0}))
        self._lock = threading.Lock()
        self._rows = rows
        self._refused = 0
        self._armed = {t for t in self._thresholds if rows < t * capacity}

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        edge_id: str,
        capacity: int,
        alarm_thresholds: Sequence[float] = (0.8, 0.9),
    ) -> Outbox:
        """The outbox in `path`, created with a new epoch if there is none; a file written
        by another edge is refused."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            epoch = _identity(conn, path, edge_id)
            [(rows,)] = conn.execute("SELECT count(*) FROM outbox").fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        logger.info("outbox %s: epoch %s, %d unconfirmed", path, epoch, rows)
        return cls(
            conn,
            path=path,
            edge_id=edge_id,
            epoch=epoch,
            rows=int(rows),
            capacity=capacity,
            alarm_thresholds=alarm_thresholds,
        )

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._conn.close()
                self._closed = True

    @property
    def epoch(self) -> UUID:
        return self._epoch

    def append(self, seal: Sealer) -> tuple[Position, list[FillAlarm]]:
        """Give the next position to `seal`, then commit the sealed event it returns."""
        with self._lock:
            if self._rows >= self._capacity:
                self._refused += 1
                raise OutboxFull(f"outbox holds {self._rows} events, its capacity")
            try:
                position = self._insert(seal)
            except OutboxError:
                self._refused += 1
                raise
            self._rows += 1
            return position, self._crossed()

    def append_alarm(self, seal: Sealer) -> Position | None:
        """Like `append`, but an alarm may use the room kept above capacity for alarms."""
        with self._lock:
            if self._rows >= self._capacity + len(self._thresholds):
                logger.error("outbox full: alarm dropped")
                return None
            position = self._insert(seal)
            self._rows += 1
            return position

    def due(self, now: float, limit: int) -> list[PendingEvent]:
        """Events never sent, or whose wait for a confirmation is over, oldest first."""
        with self._lock:
            rows = self._read(
                "SELECT seq, event_id, payload FROM outbox"
                " WHERE due_at IS NULL OR due_at <= ? ORDER BY seq LIMIT ?",
                (now, limit),
            )
        return [PendingEvent(seq, UUID(eid), bytes(payload)) for seq, eid, payload in rows]

    def in_flight(self, now: float) -> int:
        """Events sent and still waiting for their confirmation."""
        with self._lock:
            [(count,)] = self._read("SELECT count(*) FROM outbox WHERE due_at > ?", (now,))
        return int(count)

    def mark_sent(self, seqs: Iterable[int], now: float, resend_after_s: float) -> None:
        """Wait `resend_after_s` for a confirmation, twice as long after each attempt."""
        with self._lock:
            self._write_many(
                "UPDATE outbox SET due_at = ? + ? * (1 << min(attempts, 4)),"
                " attempts = attempts + 1 WHERE seq = ?",
                [(now, resend_after_s, s) for s in seqs],
            )

    def mark_all_unsent(self) -> None:
        """After a reconnect nothing in flight can be trusted to arrive: send it all again."""
        with self._lock:
            self._write_many("UPDATE outbox SET due_at = NULL WHERE due_at IS NOT NULL", [()])

    def confirm(self, event_ids: Iterable[UUID]) -> int:
        """Forget events the hub has committed; returns how many rows that removed."""
        with self._lock:
            before = self._db.total_changes
            self._write_many(
                "DELETE FROM outbox WHERE event_id = ?", [(str(e),) for e in event_ids]
            )
            removed = self._db.total_changes - before
            self._rows -= removed
            self._armed |= {t for t in self._thresholds if self._rows < t * self._capacity}
            return removed

    def health(self, now: float) -> OutboxHealth:
        with self._lock:
            oldest = self._read("SELECT created_at FROM outbox ORDER BY seq LIMIT 1")
        age = max(0.0, now - oldest[0][0]) if oldest else None
        return OutboxHealth(
            rows=self._rows, capacity=self._capacity, oldest_age_s=age, refused=self._refused
        )

    @property
    def _db(self) -> sqlite3.Connection:
        if self._closed:
            raise OutboxError(f"outbox {self._path} is closed")
        return self._conn

    def _insert(self, seal: Sealer) -> Position:
        position = Position(edge_id=self._edge_id, epoch=self.epoch, seq=self._next_seq())
        event_id, payload = seal(position)
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT INTO outbox (seq, event_id, payload, created_at) VALUES (?, ?, ?, ?)",
                    (position.seq, str(event_id), payload, time.time()),
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)", (str(position.seq + 1),)
                )
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot commit event {position.seq}: {exc}") from exc
        return position

    def _crossed(self) -> list[FillAlarm]:
        crossed = [
            t for t in self._thresholds if t in self._armed and self._rows >= t * self._capacity
        ]
        self._armed -= set(crossed)
        return [FillAlarm(t, self._rows, self._capacity) for t in crossed]

    def _write_many(self, sql: str, params: list[tuple[object, ...]]) -> None:
        try:
            with self._transaction():
                self._db.executemany(sql, params)
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox write failed: {exc}") from exc

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox read failed: {exc}") from exc

    def _next_seq(self) -> int:
        rows = self._read("SELECT value FROM meta WHERE key = 'next_seq'")
        return int(rows[0][0]) if rows else 1


def _identity(conn: sqlite3.Connection, path: Path, edge_id: str) -> UUID:
    """The file's epoch, created with it; a file written by another edge is refused (one
    from before outboxes recorded their edge becomes this edge's)."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if "epoch" in meta:
        owner = meta.get("edge_id")
        if owner is None:
            with _Transaction(conn):
                conn.execute("INSERT INTO meta VALUES ('edge_id', ?)", (edge_id,))
            owner = edge_id
        if owner != edge_id:
            raise OutboxError(f"{path} belongs to edge {owner!r}, not {edge_id!r}")
        return UUID(meta["epoch"])
    epoch = uuid.uuid4()
    with _Transaction(conn):
        conn.execute("INSERT INTO meta VALUES ('epoch', ?)", (str(epoch),))
        conn.execute("INSERT INTO meta VALUES ('edge_id', ?)", (edge_id,))
    return epoch


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                # A COMMIT that fails (disk full) leaves the transaction open: roll it back,
                # or every later BEGIN would fail too.
                self._conn.execute("COMMIT")
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
