"""People and their credentials (cards, plates, PINs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hub.tables import Card, Person, Pin, Plate
from models.events import Identifier, Text, UtcDatetime

KnownKind = Literal["resident", "staff", "visitor"]
CredentialKind = Literal["card", "plate", "pin"]


class PersonCreate(BaseModel):
    id: Identifier
    kind: KnownKind
    unit_id: Identifier | None = None
    display_name: Text = Field(max_length=100)


class PersonUpdate(BaseModel):
    kind: KnownKind | None = None
    unit_id: Identifier | None = None
    display_name: Text | None = Field(None, max_length=100)


class CardCreate(BaseModel):
    id: Identifier
    number: str = Field(pattern=r"^[0-9]{1,20}$")
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None


class PlateCreate(BaseModel):
    id: Identifier
    number: str = Field(max_length=20)
    parking_slot: Identifier | None = None


class PinCreate(BaseModel):
    id: Identifier
    pin: str = Field(pattern=r"^[0-9]{4,8}$")
    duress: bool = Field(False, description="Opens normally and raises a silent alarm")


class CredentialPublic(BaseModel):
    id: str
    kind: CredentialKind
    value: str | None = Field(description="Card or plate number; never a PIN")

    @classmethod
    def of(cls, row: Card | Plate | Pin) -> CredentialPublic:
        match row:
            case Card():
                return cls(id=row.id, kind="card", value=row.number)
            case Plate():
                return cls(id=row.id, kind="plate", value=row.number)
        return cls(id=row.id, kind="pin", value=None)


class PersonPublic(BaseModel):
    id: str
    kind: str
    unit_id: str | None
    display_name: str
    credentials: list[CredentialPublic]

    @classmethod
    def of(cls, person: Person, credentials: list[Card | Plate | Pin]) -> PersonPublic:
        """`person` with `credentials` (theirs: cards, then plates, then PINs)."""
        return cls(
            id=person.id,
            kind=person.kind,
            unit_id=person.unit_id,
            display_name=person.display_name,
            credentials=[CredentialPublic.of(c) for c in credentials],
        )
