"""User accounts follow tenancy: an account whose holder moves out, or whose holder's unit
changes, is closed at once: no login, its sessions ended, and the visitor passes it issued
that no one has used yet revoked (on the hub now, on the edges with the registry change).
Administrators list accounts and close, reopen or log out any of their compound's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, delete, select

from hub import passes
from hub.errors import NotFound
from hub.records import Slice, sliced
from hub.registry import Changes
from hub.tables import AuthToken, Person, User, VisitorPass, as_utc


@dataclass
class Closed:
    """What closing accounts did, for the change's audit record."""

    usernames: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.usernames:
            return "no account closed"
        text = f"accounts closed: {', '.join(self.usernames)}"
        return text + (f"; passes revoked: {', '.join(self.passes)}" if self.passes else "")

    def audited(self, target: str) -> str:
        """`target`, and what was closed, for the change's audit record."""
        return f"{target} ({self})" if self.usernames else target


def close_holders(
    *, session: Session, person: Person, changes: Changes, now: datetime, moved_out: bool
) -> Closed:
    """Close the accounts of `person`: all of them at move-out; a resident's when the person
    no longer lives in its unit. At move-out, a resident account of the unit that names no
    holder is closed too once nobody lives there any more (the unit changes occupant)."""
    closed = Closed()
    for user in _accounts_of(session, person, moved_out):
        close(session=session, user=user, changes=changes, now=now, closed=closed)
    return closed


def _accounts_of(session: Session, person: Person, moved_out: bool) -> list[User]:
    held = session.exec(select(User).where(col(User.person_id) == person.id)).all()
    users = [u for u in held if moved_out or (u.role == "resident" and u.unit_id != person.unit_id)]
    if moved_out and person.unit_id is not None and _last_occupant(session, person):
        unnamed = session.exec(
            select(User).where(
                col(User.unit_id) == person.unit_id,
                col(User.role) == "resident",
                col(User.person_id).is_(None),
            )
        ).all()
        users += unnamed
    return [u for u in users if u.disabled_at is None]


def _last_occupant(session: Session, person: Person) -> bool:
    others = session.exec(
        select(Person.id).where(
            col(Person.unit_id) == person.unit_id,
            col(Person.kind) == "resident",
            col(Person.id) != person.id,
        )
    ).first()
    return others is None


def close(
    *,
    session: Session,
    user: User,
    changes: Changes,
    now: datetime,
    closed: Closed | None = None,
) -> Closed:
    """No more logins or sessions for `user`; its unused visitor passes revoked."""
    closed = closed if closed is not None else Closed()
    user.disabled_at = now
    session.add(user)
    end_sessions(session=session, user=user)
    for row in _unused_passes(session, user, now):
        passes.revoke(session=session, row=row, changes=changes, now=now)
        closed.passes.append(row.id)
    closed.usernames.append(user.username)
    return closed


def reopen(*, session: Session, user: User) -> None:
    user.disabled_at = None
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)


def end_sessions(*, session: Session, user: User) -> int:
    """Every session of `user` ends now; how many there were."""
    result = session.exec(delete(AuthToken).where(col(AuthToken.user_id) == user.id))
    return int(result.rowcount or 0)


def _unused_passes(session: Session, user: User, now: datetime) -> Sequence[VisitorPass]:
    rows = session.exec(
        select(VisitorPass).where(
            col(VisitorPass.compound_id) == user.compound_id,
            col(VisitorPass.created_by) == user.username,
            col(VisitorPass.revoked_at).is_(None),
            col(VisitorPass.entries_used) == 0,
        )
    ).all()
    return [r for r in rows if as_utc(r.valid_until) > now]


def owned_user(*, session: Session, compound_id: str, username: str) -> User:
    """An account of the caller's compound; another compound's is answered as missing."""
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None or user.compound_id != compound_id:
        raise NotFound(f"no account {username}")
    return user


def listing(*, session: Session, compound_id: str, limit: int, offset: int) -> Slice[User]:
    query = select(User).where(col(User.compound_id) == compound_id).order_by(col(User.username))
    return sliced(session, query, limit=limit, offset=offset)
