"""The tamper-evident audit log: who read or changed what, when, and (for officers) why.

Each record's hash covers its content and the previous record's hash, so editing or deleting
a record breaks every later link; `python -m hub audit-verify` walks the chain. The hash is
an HMAC under a key derived from the hub's secret keys (which it keeps apart from the
database), the record naming the key's id: whoever can write to the database but does not
hold the key cannot recompute the chain after an edit. Old keys stay in the hub's key ring
for verification, and rotate like the other secrets (`ANJU_HUB_SECRET_KEYS`, current first);
records from before keys (or from a hub without them) are plain SHA-256 links, and
`audit-verify` says how many records each key, or none, sealed. Removing the newest records
leaves a shorter valid chain: keep the head hash it prints somewhere else too.
Writers queue before they read the head (PostgreSQL on an advisory lock held to the end of
the transaction, SQLite on the database's write lock), and each `prev_hash` is unique, so two
writers can never both extend the same head: the second would fail rather than fork the
chain. A change is audited inside the change's own transaction (`append`, through
`hub.audited.commit`): the change and its record commit together or not at all. A read is
audited in a transaction of its own (`record`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.core.config import HubSettings
from hub.core.db import make_engine
from hub.core.security import SecretBox
from hub.errors import HubError
from hub.tables import AuditRecord, Edge, as_utc, utcnow
from models.events import AuditHead

GENESIS = "0" * 64
TARGET_CHARS = 200  # what a record's target holds; `targets` splits longer lists
_PG_LOCK_KEY = 0x414E4A55  # "ANJU"


class AuditError(HubError):
    """The audit chain could not be extended; the caller must not go on silently."""


PURPOSE = "anju audit chain"


@dataclass(frozen=True)
class AuditKeys:
    """The keys that seal records, by id; `current` seals new ones (None: unkeyed links)."""

    keys: Mapping[str, bytes] = field(default_factory=dict)
    current: str | None = None

    @classmethod
    def from_box(cls, box: SecretBox | None) -> AuditKeys:
        if box is None:
            return cls()
        derived = box.derived_keys(PURPOSE)
        return cls(dict(derived), derived[0][0])


# The keys each database's chain is sealed with, set where the hub makes its engine (a chain
# lives in one database; every session of that engine appends with the same keys).
_SEALS: weakref.WeakKeyDictionary[Engine, AuditKeys] = weakref.WeakKeyDictionary()


def seal_with(engine: Engine, keys: AuditKeys) -> None:
    _SEALS[engine] = keys


def sealed_engine(settings: HubSettings) -> Engine:
    """The hub's database engine, its audit records sealed with the hub's keys."""
    engine = make_engine(settings.database_url)
    seal_with(engine, AuditKeys.from_box(settings.secret_box_or_none()))
    return engine


def keys_of(session: Session) -> AuditKeys:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return _SEALS.get(engine, AuditKeys())


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    compound_id: str | None


def record(
    engine: Engine, *, actor: Actor, action: str, target: str, reason: str = ""
) -> AuditRecord:
    """A record in a transaction of its own: a read's (a change's goes in with the change)."""
    with Session(engine) as session:
        entry = append(session, actor=actor, action=action, target=target, reason=reason)
        try:
            session.commit()
        except IntegrityError as exc:  # writers queue (see _queue): two heads would be a defect
            raise AuditError(f"the audit chain refused a record: {exc.orig}") from exc
        session.refresh(entry)
        return entry


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


def append(
    session: Session, *, actor: Actor, action: str, target: str, reason: str = ""
) -> AuditRecord:
    """Add a record to `session`'s transaction, at the head of the chain; it is written when
    the caller commits, with whatever else the transaction holds."""
    session.flush()  # the change first: its writes may already hold SQLite's write lock
    _queue(session)
    last = session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc())).first()
    keys = keys_of(session)
    entry = AuditRecord(
        at=utcnow(),
        actor=actor.name,
        role=actor.role,
        compound_id=actor.compound_id,
        action=action,
        target=target[:TARGET_CHARS],
        reason=reason[:500],
        key_id=keys.current or "",
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    entry.hash = digest(entry, keys)
    session.add(entry)
    return entry


def _queue(session: Session) -> None:
    """Wait for the writers ahead (to the end of this transaction), so that no other can
    read the head this one builds on: PostgreSQL on an advisory lock; SQLite on its write
    lock, which a transaction that has written holds already, and others take up front."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        raw = session.connection().connection.dbapi_connection
        if isinstance(raw, sqlite3.Connection) and not raw.in_transaction:
            # The driver begins a transaction only before a write: none yet, so begin one
            # that holds the write lock now.
            session.execute(text("BEGIN IMMEDIATE"))


def digest(entry: AuditRecord, keys: AuditKeys) -> str:
    """The record's link: an HMAC under the key it names; an unkeyed record's, SHA-256.
    `KeyError` when the key is not in `keys`."""
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
    if entry.key_id:
        content["key"] = entry.key_id
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    if not entry.key_id:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(keys.keys[entry.key_id], canonical, hashlib.sha256).hexdigest()


def head(session: Session) -> AuditHead | None:
    """The chain's newest record and its link (None for an empty chain)."""
    last = session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc())).first()
    if last is None or last.id is None:
        return None
    return AuditHead(record=last.id, hash=last.hash)


@dataclass(frozen=True)
class Verification:
    records: int
    head: str
    problems: list[str]
    sealed_by: dict[str, int] = field(default_factory=dict)  # key id ("" unkeyed): records

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> Verification:
    """Walk the chain with the keys this hub holds: an edited, removed or re-linked record,
    or one sealed with a key the hub does not hold, is a problem."""
    keys = keys_of(session)
    problems: list[str] = []
    expected_prev = GENESIS
    expected_id: int | None = None
    sealed_by: Counter[str] = Counter()
    for entry in session.exec(select(AuditRecord).order_by(col(AuditRecord.id))):
        if not entry.key_id and any(key_id for key_id in sealed_by):
            # Once records are sealed, an unkeyed one is a downgrade: someone relinked it.
            problems.append(f"record {entry.id} is unkeyed after sealed records")
        sealed_by[entry.key_id] += 1
        if expected_id is not None and entry.id != expected_id:
            problems.append(f"records {expected_id}..{(entry.id or 0) - 1} are missing")
        if entry.prev_hash != expected_prev:
            problems.append(f"record {entry.id} does not follow the record before it")
        if entry.key_id and entry.key_id not in keys.keys:
            problems.append(f"record {entry.id} is sealed with key {entry.key_id}, not held")
        elif not hmac.compare_digest(digest(entry, keys), entry.hash):
            problems.append(f"record {entry.id} was altered")
        expected_prev = entry.hash
        expected_id = (entry.id or 0) + 1
    problems += _unwitnessed(session)
    return Verification(sum(sealed_by.values()), expected_prev, problems, dict(sealed_by))


def _unwitnessed(session: Session) -> list[str]:
    """The heads edges have heard from this hub that the chain no longer holds: its tail was
    cut (or the database restored from an older backup), which a walk alone cannot see."""
    problems = []
    edges = session.exec(select(Edge).where(col(Edge.audit_head_record).is_not(None)))
    for edge in edges:
        if edge.audit_head_record is None or edge.audit_head_hash is None:
            continue
        heard = AuditHead(record=edge.audit_head_record, hash=edge.audit_head_hash)
        problem = unheld(session, edge.edge_id, heard)
        if problem is not None:
            problems.append(problem)
    return problems


def unheld(session: Session, edge_id: str, heard: AuditHead) -> str | None:
    """What is wrong when the chain no longer holds the head `edge_id` heard; None if it
    does. Checked as each edge's status arrives (an alarm at once) and by `verify`."""
    held = session.get(AuditRecord, heard.record)
    if held is not None and held.hash == heard.hash:
        return None
    return (
        f"record {heard.record}, the chain's head as edge {edge_id} last heard it, is gone or"
        " changed: the chain's newest records were removed"
    )
