"""The thresholds of the hub's analytics, set per hub in its settings (`ANJU_HUB_ANALYTICS`,
a JSON object; unknown keys are refused)."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from models.events import ZoneName


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnomalyRules(Strict):
    overstay_hours: float = Field(12, gt=0, description="A visitor inside longer is overstaying")
    denials: int = Field(3, ge=2, description="Denials of one credential that make a pattern")
    denials_minutes: float = Field(10, gt=0, description="…within this many minutes")
    returning_days: int = Field(
        3, ge=2, description="Distinct days an unknown face or plate must come on to be flagged"
    )
    returning_window_days: int = Field(7, ge=1, description="…within this many days")
    night_start: time = Field(time(23, 0), description="Visitor entries from this local time…")
    night_end: time = Field(time(5, 0), description="…until this one are night entries")
    look_back_days: int = Field(7, ge=1, description="How far back each scan reads the log")


class Presence(Strict):
    """How long someone whose exit was never read is still counted inside."""

    resident_days: float = Field(
        30, gt=0, description="A resident last seen entering longer ago counts as away"
    )

    visitor_hours: float = Field(24, gt=0, description="A visitor counts as gone after this")
    staff_hours: float = Field(16, gt=0, description="Staff count as gone after this")
    vehicle_hours: float = Field(
        72, gt=0, description="A non-resident vehicle counts as gone after this"
    )


class Retention(Strict):
    entries_days: int = Field(180, ge=1, description="Entry events are deleted after this")
    alarms_days: int = Field(365, ge=1, description="Alarms are deleted after this")
    dead_letters_days: int = Field(30, ge=1, description="Refused payloads are deleted after this")
    pseudonym_days: int = Field(
        7, ge=1, description="Unknown faces' pseudonyms are erased from entries after this"
    )
    closed_anomalies_days: int = Field(365, ge=1, description="Closed anomalies go after this")


class AnalyticsPolicy(Strict):
    time_zone: ZoneName = Field(
        "Asia/Shanghai", description="The compound's local time (days, nights)"
    )
    anomalies: AnomalyRules = AnomalyRules()
    presence: Presence = Presence()
    retention: Retention = Retention()
    response_minutes: int = Field(30, ge=1, description="A work order's target response time")
    absent_days: int = Field(30, ge=1, description="A resident unseen this long is listed")
    regular_days: int = Field(
        4, ge=2, description="An unregistered face or plate seen on this many days is a regular"
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)
