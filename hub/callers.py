"""Who is asking: a logged-in user, the role they act in and the reason they gave. The API's
dependencies and the web UI's sessions make a `Caller`; the data layer and the audit log take
one, and never reach into either."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from hub import audit
from hub.audited import Note
from hub.auth import Role
from hub.tables import User


@dataclass(frozen=True)
class Caller:
    """A logged-in user, the role they act in, and the reason they gave (officers must)."""

    user: User
    role: Role
    reason: str
    engine: Engine

    @property
    def compound_id(self) -> str:
        return self.user.compound_id

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(self.user.username, self.role.value, self.user.compound_id)

    def note(self, action: str, target: str, reason: str | None = None) -> Note:
        """What the audit log will say of a change this caller makes (`hub.audited.commit`),
        with the reason they gave unless the change carries its own."""
        return Note(self.actor, action, target, self.reason if reason is None else reason)

    def audit(self, action: str, target: str) -> None:
        """A read, audited in a transaction of its own (a change is audited with it)."""
        audit.record(
            self.engine, actor=self.actor, action=action, target=target, reason=self.reason
        )
