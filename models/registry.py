"""The registry-delta format: how the hub's registry reaches an edge's cache.

A delta takes a cache from `from_version` to `to_version`; a snapshot is a delta from version 0.
Records are upserted or deleted by id; later versions may add record kinds and optional fields.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from models.events import Contract, Identifier, SubjectKind, Text, UtcDatetime


class Op(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class PersonRecord(Contract):
    kind: Literal["person"] = "person"
    id: Identifier
    subject_kind: SubjectKind
    unit_id: Identifier | None = None
    display_name: Text = Field(default="", max_length=100)


class CardRecord(Contract):
    """A card as its reader reports it: the Wiegand data bits as a decimal number."""

    kind: Literal["card"] = "card"
    id: Identifier
    person_id: Identifier
    number: str = Field(pattern=r"^[0-9]{1,20}$")
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        starts_ok = self.valid_from is None or self.valid_from <= moment
        return starts_ok and (self.valid_until is None or moment < self.valid_until)


class PinRecord(Contract):
    """A PIN as its keyed digest; edges get the compound's key with their provisioning."""

    kind: Literal["pin"] = "pin"
    id: Identifier
    person_id: Identifier
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    duress: bool = False


class PlateRecord(Contract):
    kind: Literal["plate"] = "plate"
    id: Identifier
    person_id: Identifier | None = None
    number: str = Field(min_length=7, max_length=10)


class PassRecord(Contract):
    """A visitor pass that is valid (a revoked pass is deleted from the edges' registry)."""

    kind: Literal["pass"] = "pass"
    id: Identifier
    unit_id: Identifier
    valid_from: UtcDatetime
    valid_until: UtcDatetime
    max_entries: int = Field(ge=1)
    plate: str | None = Field(None, min_length=7, max_length=10)


class WatchlistRecord(Contract):
    """What to watch for and what to do; why it is watched stays on the hub."""

    kind: Literal["watchlist"] = "watchlist"
    id: Identifier
    target: Literal["plate", "person"]
    value: str = Field(min_length=1, max_length=64)
    action: Literal["deny", "alert"]


class FaceRecord(Contract):
    """A face template of a person who consented, from which no photo can be rebuilt:
    little-endian float32 numbers, base64, as many as its engine makes (`engine` is the
    engine's key, `anju.faces.engines`; records before engines existed are dlib's). A
    gallery compares templates of one engine only. Photos never leave the hub's memory."""

    kind: Literal["face"] = "face"
    id: Identifier
    person_id: Identifier
    engine: Identifier = "dlib"
    template: str = Field(min_length=44, max_length=10924, pattern=r"^[A-Za-z0-9+/]+={0,2}$")

    @model_validator(mode="after")
    def _whole_numbers(self) -> FaceRecord:
        try:
            size = len(base64.b64decode(self.template, validate=True))
        except binascii.Error as exc:
            raise ValueError(f"a template is base64: {exc}") from exc
        if size % 4 or not 32 <= size // 4 <= 2048:
            raise ValueError("a template is 32 to 2,048 float32 numbers")
        return self


class FacePolicyRecord(Contract):
    """The risk gate of one engine's gallery, computed by the hub on the compound's own
    templates (`anju.faces.risk`): whether a face alone may open, and who may not (their
    nearest other resident is too near). Without it a face never opens alone."""

    kind: Literal["face_policy"] = "face_policy"
    id: Identifier  # policy-<the engine's key>
    engine: Identifier
    people: int = Field(ge=0)
    fpir_bound: float = Field(ge=0, le=1)
    limit: float = Field(ge=0, le=1)
    look_alikes: list[Identifier] = Field(default_factory=list)

    def face_alone(self, person_id: str) -> bool:
        return self.fpir_bound <= self.limit and person_id not in self.look_alikes


RecordKind = Literal["person", "card", "pin", "plate", "pass", "watchlist", "face", "face_policy"]
Record = Annotated[
    PersonRecord
    | CardRecord
    | PinRecord
    | PlateRecord
    | PassRecord
    | WatchlistRecord
    | FaceRecord
    | FacePolicyRecord,
    Field(discriminator="kind"),
]


class Change(Contract):
    op: Op
    record_kind: RecordKind
    id: Identifier
    record: Record | None = None

    @model_validator(mode="after")
    def _record_matches(self) -> Change:
        if self.op is Op.UPSERT and (self.record is None or self.record.id != self.id):
            raise ValueError("an upsert carries the record it names")
        if self.record is not None and self.record.kind != self.record_kind:
            raise ValueError("record kind differs from record_kind")
        return self


class RegistryDelta(Contract):
    """From `from_version` to `to_version`; from 0 it is a full snapshot, replacing the cache."""

    v: Literal[1] = 1
    compound_id: Identifier
    from_version: int = Field(ge=0)
    to_version: int = Field(ge=0)
    changes: list[Change]

    @model_validator(mode="after")
    def _versions_ascend(self) -> RegistryDelta:
        if self.to_version < self.from_version:
            raise ValueError("to_version precedes from_version")
        return self


class RegistryNudge(Contract):
    """Sent to an edge's registry topic after a change: pull the delta now."""

    compound_id: Identifier
    version: int = Field(ge=0)
