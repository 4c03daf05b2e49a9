"""The tamper-evident audit log: who read or changed what, when, and (for officers) why.

Each record's hash covers its content and the previous record's hash, so editing or deleting
a record breaks every later link; `python -m hub audit-verify` walks the chain. Removing the
newest records leaves a shorter valid chain: keep the head hash it prints somewhere else too.
Each `prev_hash` is unique, so two writers that read the same head cannot both extend it: the
second insert fails and is retried on the new head (a lock in this process, and an advisory
lock on PostgreSQL, make that rare). A record is written in its own transaction, after the
change it describes has committed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.errors import HubError
from hub.tables import AuditRecord, as_utc, utcnow

GENESIS = "0" * 64
TARGET_CHARS = 200  # what a record's target holds; `targets` splits longer lists
_LOCK = threading.Lock()
_PG_LOCK_KEY = 0x414E4A55  # "ANJU"


class AuditError(HubError):
    """The audit chain could not be extended; the caller must not go on silently."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    compound_id: str | None


def record(
    engine: Engine, *, actor: Actor, action: str, target: str, reason: str = ""
) -> AuditRecord:
    try:
        return _append(engine, actor, action, target, reason)
    except IntegrityError as exc:  # writers queue (see _append): two heads would be a defect
        raise AuditError(f"the audit chain refused a record: {exc.orig}") from exc


def targets(prefix: str, items: Iterable[str]) -> list[str]:
    """`prefix` naming `items` in as few targets as the column holds, none cut short (a read
    of many people is several records rather than one that loses names)."""
    out: list[str] = []
    group: list[str] = []
    for item in items:
        if group and len(f"{prefix} ({', '.join([*group, item])})") > TARGET_CHARS:
            out.append(f"{prefix} ({', '.join(group)})")
            group = []
        group.append(item)
    if group or not out:
        out.append(f"{prefix} ({', '.join(group)})" if group else prefix)
    return out


def _append(engine: Engine, actor: Actor, action: str, target: str, reason: str) -> AuditRecord:
    with _LOCK, Session(engine) as session:
        # Writers queue before reading the head, so that two never build on the same one:
        # PostgreSQL on an advisory lock, SQLite on its write lock, taken up front.
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            session.execute(text("BEGIN IMMEDIATE"))
        last = session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc())).first()
        entry = AuditRecord(
            at=utcnow(),
            actor=actor.name,
            role=actor.role,
            compound_id=actor.compound_id,
            action=action,
            target=target[:TARGET_CHARS],
            reason=reason[:500],
            prev_hash=last.hash if last else GENESIS,
            hash="",
        )
        entry.hash = digest(entry)
        session.add(entry)
        session.commit()
        session.refresh(entry)
        return entry


def digest(entry: AuditRecord) -> str:
    content = {
        "at": as_utc(entry.at).isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "compound_id": entry.compound_id,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "prev": entry.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Verification:
    records: int
    head: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> Verification:
    problems: list[str] = []
    expected_prev = GENESIS
    expected_id: int | None = None
    count = 0
    for entry in session.exec(select(AuditRecord).order_by(col(AuditRecord.id))):
        count += 1
        if expected_id is not None and entry.id != expected_id:
            problems.append(f"records {expected_id}..{(entry.id or 0) - 1} are missing")
        if entry.prev_hash != expected_prev:
            problems.append(f"record {entry.id} does not follow the record before it")
        if digest(entry) != entry.hash:
            problems.append(f"record {entry.id} was altered")
        expected_prev = entry.hash
        expected_id = (entry.id or 0) + 1
    return Verification(records=count, head=expected_prev, problems=problems)
