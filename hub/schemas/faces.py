"""Face enrolment with consent, and a person's face status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from hub.faces import MAX_PHOTO_BYTES, FaceState
from hub.tables import as_utc
from hub.tables.registry import MAX_DOCUMENT_REF
from models.events import Text

MAX_PHOTOS = 10
MAX_PHOTO_CHARS = (MAX_PHOTO_BYTES * 4) // 3 + 4


class Consent(BaseModel):
    minor: bool = Field(description="Under 14: a guardian's consent is required")
    given_by: Literal["self", "guardian"]
    guardian_name: Text | None = Field(None, max_length=100)
    document_ref: Text | None = Field(
        None, max_length=MAX_DOCUMENT_REF, description="The signed form"
    )

    @model_validator(mode="after")
    def _guardian_for_a_minor(self) -> Consent:
        if self.minor and (self.given_by != "guardian" or not self.guardian_name):
            raise ValueError("a minor's consent is given by a named guardian")
        return self


class EnrolBody(BaseModel):
    consent: Consent
    photos: list[Annotated[str, Field(max_length=MAX_PHOTO_CHARS)]] = Field(
        min_length=1, max_length=MAX_PHOTOS, description="base64, at most 8 MB each"
    )


class Enrolled(BaseModel):
    templates: int
    warnings: list[str]


class FaceStatus(BaseModel):
    consent: bool
    recorded_at: datetime | None
    minor: bool | None
    templates: int

    @classmethod
    def of(cls, state: FaceState) -> FaceStatus:
        consent = state.consent
        return cls(
            consent=consent is not None,
            recorded_at=None if consent is None else as_utc(consent.recorded_at),
            minor=None if consent is None else consent.minor,
            templates=state.templates,
        )
