"""User accounts follow tenancy: an account whose holder moves out, or whose holder's unit
changes, is closed at once: no login, its sessions ended, and the visitor passes it issued
that can still let someone in revoked (on the hub now, on the edges with the registry change).
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
    *,
    session: Session,
    person: Person,
    changes: Changes,
    now: datetime,
    moved_out: bool,
    left_unit: str | None,
) -> Closed:
    """Close the accounts of `person`: all of them at move-out; a resident's when the person
    no longer lives in its unit. When the person leaves `left_unit` (moving out or to another
    unit) and nobody lives there any more, the unit's resident accounts that name no holder
    close too (the unit changes occupant)."""
    closed = Closed()
    for user in _accounts_of(session, person, moved_out, left_unit):
        close(session=session, user=user, changes=changes, now=now, closed=closed)
    return closed


def _accounts_of(
    session: Session, person: Person, moved_out: bool, left_unit: str | None
) -> list[User]:
    held = session.exec(select(User).where(col(User.person_id) == person.id)).all()
    users = [u for u in held if moved_out or (u.role == "resident" and u.unit_id != person.unit_id)]
    if left_unit is not None and _nobody_left(session, left_unit, person.id):
        unnamed = session.exec(
            select(User).where(
                col(User.unit_id) == left_unit,
                col(User.role) == "resident",
                col(User.person_id).is_(None),
            )
        ).all()
        users += unnamed
    return [u for u in users if u.disabled_at is None]


def _nobody_left(session: Session, unit_id: str, leaving: str) -> bool:
    others = session.exec(
        select(Person.id).where(
            col(Person.unit_id) == unit_id,
            col(Person.kind) == "resident",
            col(Person.id) != leaving,
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
    """No more logins or sessions for `user`; the visitor passes it issued that can still
    let someone in (not expired, entries left) revoked: a pass used once before the move-out
    was recorded would otherwise go on opening the gate."""
    closed = closed if closed is not None else Closed()
    user.disabled_at = now
    session.add(user)
    end_sessions(session=session, user=user)
    for row in _open_passes(session, user, now):
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


def _open_passes(session: Session, user: User, now: datetime) -> Sequence[VisitorPass]:
    rows = session.exec(
        select(VisitorPass).where(
            col(VisitorPass.compound_id) == user.compound_id,
            col(VisitorPass.created_by) == user.username,
            col(VisitorPass.revoked_at).is_(None),
            col(VisitorPass.entries_used) < col(VisitorPass.max_entries),
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
