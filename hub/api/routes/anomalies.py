"""Visitor anomalies for community officers and staff: the list, one case with its evidence
and history, the actions on it (each with a reason, audited), and an on-demand scan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub import audited
from hub.analytics import casework
from hub.analytics.casework import Status
from hub.api.deps import ServicesDep, SessionDep, allow
from hub.api.params import RowId
from hub.auth import Role
from hub.callers import Caller
from hub.errors import InvalidInput
from hub.schemas.anomalies import ActionBody, AnomalyDetail, AnomalyPublic, ScanPublic
from hub.tables import utcnow
from models.events import Moment

router = APIRouter(prefix="/api/anomalies", tags=["anomalies"])
Reader = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER, personal_data=True)]
Scanner = Annotated[Caller, allow(Role.ADMIN, Role.STAFF, Role.OFFICER)]


@router.get("")
def list_anomalies(
    caller: Reader,
    session: SessionDep,
    status: Annotated[Status | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AnomalyPublic]:
    rows = casework.listing(
        session=session, compound_id=caller.compound_id, status=status, rule=rule, limit=limit
    )
    caller.audit("read", "anomalies")
    return [AnomalyPublic.of(row) for row in rows]


@router.get("/{anomaly_id}")
def get_anomaly(anomaly_id: RowId, caller: Reader, session: SessionDep) -> AnomalyDetail:
    anomaly = casework.get(session=session, compound_id=caller.compound_id, anomaly_id=anomaly_id)
    caller.audit("read", f"anomaly:{anomaly_id}")
    return AnomalyDetail.of_case(casework.case_file(session=session, anomaly=anomaly))


@router.post("/{anomaly_id}/actions")
def act_on_anomaly(
    anomaly_id: RowId, body: ActionBody, caller: Reader, session: SessionDep
) -> AnomalyDetail:
    """Acknowledge, assign, close or reopen, with a reason that the case and the audit log
    both keep."""
    anomaly = casework.act(
        session=session,
        compound_id=caller.compound_id,
        anomaly_id=anomaly_id,
        action=body.action,
        actor=caller.user.username,
        reason=body.reason,
        assignee=body.assignee,
        now=utcnow(),
    )
    audited.commit(session, caller.note(body.action.value, f"anomaly:{anomaly_id}"))
    return AnomalyDetail.of_case(casework.case_file(session=session, anomaly=anomaly))


@router.post("/scan")
def scan(
    caller: Scanner,
    session: SessionDep,
    services: ServicesDep,
    at: Annotated[Moment | None, Query(description="As of this past time (a rescan)")] = None,
) -> ScanPublic:
    """Run the rules now rather than at the next round of the analytics job, or as of a past
    moment (to rescan the hours an edge was offline, once its events have arrived)."""
    now = utcnow()
    if at is not None and at > now:
        raise InvalidInput("a scan cannot look into the future")
    report = casework.scan(
        session=session,
        compound_id=caller.compound_id,
        policy=services.settings.analytics,
        now=at or now,
    )
    audited.commit(
        session, caller.note("scan", f"anomalies (as of {at.isoformat()})" if at else "anomalies")
    )
    return ScanPublic.of(report)
