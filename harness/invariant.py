"""The delivery invariant: every event an edge generated is in the hub exactly once.

What an edge generated is read from its outbox file (the next `seq` of its epoch); what the hub
holds is read from its database. Fault tests, the chaos run and the benchmarks all judge their
result with `check`, so "lost" and "duplicates" mean the same everywhere.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text


@dataclass(frozen=True)
class Stream:
    """Positions 1..generated of one edge's epoch."""

    edge_id: str
    epoch: str
    generated: int


@dataclass(frozen=True)
class HubRow:
    table: str
    event_id: str
    edge_id: str
    epoch: str
    seq: int

    @property
    def position(self) -> tuple[str, str, int]:
        return (self.edge_id, self.epoch, self.seq)


@dataclass(frozen=True)
class Report:
    generated: int
    stored: int
    lost: int
    duplicates: int
    unexpected: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0


def outbox_stream(path: Path) -> tuple[Stream, int]:
    """The stream an outbox file generated, and how many of its events are unconfirmed."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        (pending,) = conn.execute("SELECT count(*) FROM outbox").fetchone()
    generated = int(meta.get("next_seq", 1)) - 1
    return Stream(meta["edge_id"], meta["epoch"], generated), int(pending)


def hub_rows(database_url: str) -> list[HubRow]:
    """Every positioned row the hub holds: the receipt ledger, entries and edge alarms."""
    engine = create_engine(database_url)
    queries = {
        "receipt": "SELECT event_id, edge_id, epoch, seq FROM receipt",
        "entry": "SELECT event_id, edge_id, epoch, seq FROM entry",
        "alarm": "SELECT a.event_id, r.edge_id, r.epoch, r.seq FROM alarm a"
        " JOIN receipt r ON r.event_id = a.event_id",
    }
    try:
        with engine.connect() as conn:
            return [
                HubRow(table, _uuid(eid), edge, _uuid(epoch), int(seq))
                for table, sql in queries.items()
                for eid, edge, epoch, seq in conn.execute(text(sql))
            ]
    finally:
        engine.dispose()


def _uuid(value: object) -> str:
    """SQLite stores UUIDs as 32 hex digits, PostgreSQL as UUIDs: compare them one way."""
    return str(value).replace("-", "").lower()


def check(streams: Iterable[Stream], rows: Iterable[HubRow]) -> Report:
    streams = list(streams)
    rows = list(rows)
    receipts = [r for r in rows if r.table == "receipt"]
    events = [r for r in rows if r.table != "receipt"]
    problems: list[str] = []

    duplicates = _extra(Counter(r.position for r in receipts), "position", problems)
    duplicates += _extra(Counter(r.event_id for r in receipts), "event_id", problems)
    duplicates += _extra(Counter(r.position for r in events), "row", problems)
    receipt_ids = {r.event_id for r in receipts}
    orphans = [r for r in events if r.event_id not in receipt_ids]
    problems += [f"{r.table} row {r.event_id} has no receipt" for r in orphans]

    held = {r.position for r in receipts}
    expected = {(s.edge_id, _uuid(s.epoch), n) for s in streams for n in range(1, s.generated + 1)}
    missing = sorted(expected - held)
    problems += [f"lost {edge}/{epoch}/{seq}" for edge, epoch, seq in missing[:20]]
    watched = {(s.edge_id, _uuid(s.epoch)) for s in streams}
    beyond = sorted(p for p in held - expected if (p[0], p[1]) in watched)
    problems += [f"unexpected {edge}/{epoch}/{seq}" for edge, epoch, seq in beyond[:20]]
    return Report(
        generated=len(expected),
        stored=len(held & expected),
        lost=len(missing),
        duplicates=duplicates,
        unexpected=len(beyond) + len(orphans),
        problems=problems,
    )


def _extra(counts: Counter[object], what: str, problems: list[str]) -> int:
    extra = {key: n - 1 for key, n in counts.items() if n > 1}
    problems += [f"{what} {key} held {n + 1} times" for key, n in list(extra.items())[:20]]
    return sum(extra.values())
