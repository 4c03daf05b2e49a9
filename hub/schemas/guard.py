"""The guard booth: a command to a gate, and who is waiting at which gate with the plates a
refused plate may be."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from models.events import Direction, Identifier, Text
from models.tokens import GateAction


class CommandBody(BaseModel):
    action: GateAction
    reason: Text = Field(min_length=3, max_length=300)
    direction: Direction = Direction.IN
    subject_id: Identifier | None = None
    pass_id: Identifier | None = None


class CommandSent(BaseModel):
    command_id: str
    edges: list[str]


class LooksLike(BaseModel):
    plate: str
    exact: bool  # the plate read is this one (the gate's registry is behind, or it is early)
    person_id: str | None  # a person's registered plate; or
    pass_id: str | None = None  # a visitor pass's plate, with its window
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    kind: str
    display_name: str
    unit_id: str | None

    @property
    def holder(self) -> str:
        """Whom a guard's command names to open for this plate (`subject_id` or `pass_id`)."""
        return self.person_id or str(self.pass_id)


class Waiting(BaseModel):
    gate_id: str
    lane: str
    direction: Direction
    since: datetime
    attempts: int
    method: str
    credential_ref: str | None
    subject_kind: str
    subject_id: str | None
    last_reason: str
    event_id: str  # the last denial's
    snapshot: bool  # its edge kept a picture of it (`GET /api/events/{event_id}/snapshot`)
    looks_like: list[LooksLike] = []  # for a refused plate: the plates on record it may be
