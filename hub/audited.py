"""A change and the audit record that says who made it, committed in one transaction: the one
way the hub's routes, pages and commands commit what they change.

The change is staged in the session by the data layer (a person added, a case closed); `commit`
flushes it (a duplicate id, card or plate is a `Conflict` then, and nothing is written), gives
a registry change its new version, appends the audit record at the head of the chain
(`hub.audit.append`), and commits them together: a change is never stored unaudited, nor
audited and lost. Reads are audited on their own (`Caller.audit`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hub import audit
from hub.errors import Conflict
from hub.registry import Changes


@dataclass(frozen=True)
class Note:
    """What the audit log says of a change: who, did what, to which record, and why."""

    actor: audit.Actor
    action: str
    target: str
    reason: str = ""


def commit(session: Session, note: Note, changes: Changes | None = None) -> int | None:
    """Commit what `session` holds with `note`'s record; for a registry change (`changes`),
    with the compound's new registry version too, which it returns."""
    try:
        session.flush()
        version = None if changes is None else changes.commit_version(session)
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"{note.target}: its id, or a number or plate it holds, is taken") from exc
    audit.append(
        session, actor=note.actor, action=note.action, target=note.target, reason=note.reason
    )
    try:
        session.commit()
    except IntegrityError as exc:  # only the record is left to write: the chain refused it
        session.rollback()
        raise audit.AuditError(f"the audit chain refused a record: {exc.orig}") from exc
    return version
