"""Logins with lockout, expiring session tokens, and edge tokens."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub import audit
from hub.core.config import HubSettings
from hub.core.security import (
    PasswordCost,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from hub.errors import Conflict, InvalidInput, Unauthenticated
from hub.records import referenced
from hub.tables import AuthToken, Edge, Person, Unit, User, as_utc, utcnow

REFUSED = "login refused: wrong user name or password, or the account is locked for a while"


CLOSED = "this account is closed; ask the property office"


@functools.cache
def _dummy_hash(cost: PasswordCost) -> str:
    """Checked when the user does not exist, so that every refusal takes one password check
    of the configured cost; made at the first such refusal, not at import."""
    return hash_password("anju-no-such-user", cost)


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    OFFICER = "officer"
    RESIDENT = "resident"


def create_user(
    *,
    session: Session,
    settings: HubSettings,
    username: str,
    password: str,
    role: Role,
    compound_id: str,
    unit_id: str | None = None,
    person_id: str | None = None,
) -> User:
    if len(password) < 10:
        raise Conflict("a password needs at least 10 characters")
    if session.exec(select(User).where(col(User.username) == username)).first():
        raise Conflict(f"user {username} exists")
    if (role is Role.RESIDENT) != (unit_id is not None):
        raise Conflict("a resident account belongs to exactly one unit; others to none")
    if unit_id is not None:
        referenced(session, Unit, unit_id, compound_id, "unit")
    if person_id is not None:
        person = referenced(session, Person, person_id, compound_id, "person")
        if role is Role.RESIDENT and person.unit_id != unit_id:
            raise InvalidInput(f"person {person_id} does not live in unit {unit_id}")
    user = User(
        username=username,
        password_hash=hash_password(password, settings.password_cost()),
        role=role.value,
        compound_id=compound_id,
        unit_id=unit_id,
        person_id=person_id,
    )
    session.add(user)
    return user


def login(
    *, session: Session, settings: HubSettings, username: str, password: str
) -> tuple[str, datetime]:
    """A new session token and its expiry; repeated failures lock the account for a while."""
    now = utcnow()
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        verify_password(password, _dummy_hash(settings.password_cost()))
        _refused(session, username, None, "no such account")
        raise Unauthenticated(REFUSED)
    # The same answer, after the same work, whether the password or the lock refused it.
    correct = verify_password(password, user.password_hash)
    locked = user.locked_until is not None and as_utc(user.locked_until) > now
    if locked or not correct:
        if not correct:
            _failed(session, user.id or 0, settings, now)
        _refused(session, username, user, "locked" if correct else "wrong password")
        raise Unauthenticated(REFUSED)
    if user.disabled_at is not None:  # said only to the one who knows the password
        _refused(session, username, user, "closed")
        raise Unauthenticated(CLOSED)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    token = new_token()
    expires = now + timedelta(hours=settings.session_hours)
    session.add(AuthToken(token_hash=token_digest(token), user_id=user.id or 0, expires_at=expires))
    actor = audit.Actor(user.username, user.role, user.compound_id)
    audit.append(session, actor=actor, action="login", target=f"user:{user.username}")
    session.commit()
    return token, expires


def _refused(session: Session, username: str, user: User | None, why: str) -> None:
    """A refused login, audited (a guessing run shows in the log as well as in the lock)."""
    actor = audit.Actor(
        username[:64], user.role if user else "", user.compound_id if user else None
    )
    target = f"user:{username}"[: audit.TARGET_CHARS]
    audit.append(session, actor=actor, action="login_refused", target=target, reason=why)
    session.commit()


def _failed(session: Session, user_id: int, settings: HubSettings, now: datetime) -> None:
    """Count a failure atomically, so that guesses sent in parallel are all counted."""
    session.execute(
        update(User).where(col(User.id) == user_id).values(failed_logins=User.failed_logins + 1)
    )
    session.execute(
        update(User)
        .where(col(User.id) == user_id, col(User.failed_logins) >= settings.lockout_failures)
        .values(failed_logins=0, locked_until=now + timedelta(minutes=settings.lockout_minutes))
    )
    session.commit()


def user_for_token(*, session: Session, token: str) -> User:
    row = session.get(AuthToken, token_digest(token))
    if row is None or as_utc(row.expires_at) <= utcnow():
        raise Unauthenticated("missing, unknown or expired token; log in again")
    user = session.get(User, row.user_id)
    if user is None:
        raise Unauthenticated("the account behind this token is gone")
    if user.disabled_at is not None:
        raise Unauthenticated(CLOSED)
    return user


def logout(*, session: Session, token: str) -> None:
    row = session.get(AuthToken, token_digest(token))
    if row is not None:
        session.delete(row)
        session.commit()


def edge_for_token(*, session: Session, token: str) -> Edge:
    edge = session.exec(select(Edge).where(col(Edge.token_hash) == token_digest(token))).first()
    if edge is None:
        raise Unauthenticated("unknown edge token")
    return edge
