"""Who is inside now, and over time."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.events import Moment


class BuildingCount(BaseModel):
    building_id: str | None = Field(description="None: people with no unit (staff, walk-ins)")
    name: str
    people: int


class Occupancy(BaseModel):
    at: datetime
    inside: dict[str, int] = Field(description="People inside by kind")
    total: int
    vehicles: dict[str, int] = Field(description="Vehicles inside: residents' and others")
    buildings: list[BuildingCount]


class Point(BaseModel):
    at: datetime
    people: dict[str, int]
    vehicles: dict[str, int]


class SeriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Moment
    until: Moment
    step_minutes: int = Field(60, ge=5, le=24 * 60)

    @model_validator(mode="after")
    def _bounded(self) -> SeriesQuery:
        if not self.since < self.until <= self.since + timedelta(days=31):
            raise ValueError("until must come after since, at most 31 days later")
        return self
