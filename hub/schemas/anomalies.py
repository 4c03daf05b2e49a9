"""Visitor anomalies as cases: the list, one case with its evidence and history, a step on
it, and what a scan found."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from hub.analytics.casework import Action, CaseFile, ScanReport
from hub.schemas.events import EntryPublic
from hub.tables import Anomaly, AnomalyAction, as_utc
from models.events import Text


class ActionBody(BaseModel):
    action: Action
    reason: Text = Field(min_length=3, max_length=500)
    assignee: str | None = Field(None, max_length=64)


class ScanPublic(BaseModel):
    found: int
    new: int
    reopened: int
    withdrawn: int = Field(description="Overstays disproved by an exit that arrived late")

    @classmethod
    def of(cls, report: ScanReport) -> ScanPublic:
        return cls(**vars(report))


class AnomalyPublic(BaseModel):
    id: int
    rule: str
    subject: str | None
    summary: str
    first_at: datetime
    last_at: datetime
    status: str
    assignee: str | None

    @classmethod
    def of(cls, row: Anomaly) -> AnomalyPublic:
        assert row.id is not None
        return AnomalyPublic(
            id=row.id,
            rule=row.rule,
            subject=row.subject,
            summary=row.summary,
            first_at=as_utc(row.first_at),
            last_at=as_utc(row.last_at),
            status=row.status,
            assignee=row.assignee,
        )


class StepPublic(BaseModel):
    actor: str
    action: str
    status: str
    assignee: str | None
    reason: str
    at: datetime

    @classmethod
    def of(cls, step: AnomalyAction) -> StepPublic:
        return cls(**step.model_dump(exclude={"id", "anomaly_id", "at"}), at=as_utc(step.at))


class AnomalyDetail(AnomalyPublic):
    evidence: list[str] = Field(description="Event ids (and `alarm:N` for hub alarms)")
    entries: list[EntryPublic] = Field(description="The evidence entries still in the log")
    history: list[StepPublic]

    @classmethod
    def of_case(cls, case: CaseFile) -> AnomalyDetail:
        return cls(
            **AnomalyPublic.of(case.anomaly).model_dump(),
            evidence=list(case.evidence),
            entries=[EntryPublic.of(e) for e in case.entries],
            history=[StepPublic.of(step) for step in case.history],
        )
