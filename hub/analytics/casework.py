"""Anomalies as cases: findings stored once by their (rule, key), their evidence, and what
officers do with them (acknowledge, assign, close, reopen), each step with its reason; and a
case with what it rests on (`case_file`), as the API and the web UI show it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from hub.analytics import anomalies, occupancy
from hub.analytics.anomalies import Finding
from hub.analytics.policy import AnalyticsPolicy
from hub.errors import Conflict, InvalidInput
from hub.records import owned
from hub.tables import (
    Alarm,
    Anomaly,
    AnomalyAction,
    AnomalyEvidence,
    Entry,
    as_utc,
)


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    CLOSE = "close"
    REOPEN = "reopen"


# The statuses each action may start from, and the status it leaves.
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.ACKNOWLEDGE: (frozenset({Status.OPEN}), Status.ACKNOWLEDGED),
    Action.ASSIGN: (frozenset({Status.OPEN, Status.ACKNOWLEDGED}), None),
    Action.CLOSE: (frozenset({Status.OPEN, Status.ACKNOWLEDGED}), Status.CLOSED),
    Action.REOPEN: (frozenset({Status.CLOSED}), Status.OPEN),
}


@dataclass(frozen=True)
class ScanReport:
    found: int
    new: int
    reopened: int
    withdrawn: int = 0


def scan(
    *, session: Session, compound_id: str, policy: AnalyticsPolicy, now: datetime
) -> ScanReport:
    """Run every rule over the recent log and store what they find; the caller commits."""
    log = read_log(session=session, compound_id=compound_id, policy=policy, now=now)
    findings = anomalies.find(log, policy.anomalies)
    known = _Known.load(session, compound_id, findings)
    new = reopened = 0
    for finding in findings:
        outcome = _store(session, known, compound_id, finding, now)
        new += outcome == "new"
        reopened += outcome == "reopened"
    withdrawn = _withdraw_overstays(session, compound_id, policy, now)
    return ScanReport(found=len(findings), new=new, reopened=reopened, withdrawn=withdrawn)


def _withdraw_overstays(
    session: Session, compound_id: str, policy: AnalyticsPolicy, now: datetime
) -> int:
    """An overstay raised while an edge was offline may be disproved by the exit it delivers
    late: close it, saying so. An exit after the limit leaves the case as it is."""
    limit = timedelta(hours=policy.anomalies.overstay_hours)
    cases = session.exec(
        select(Anomaly).where(
            col(Anomaly.compound_id) == compound_id,
            col(Anomaly.rule) == "overstay",
            col(Anomaly.status) != Status.CLOSED.value,
        )
    ).all()
    withdrawn = 0
    for case in cases:
        exit_at = _exit_after(session, case)
        if exit_at is not None and exit_at - as_utc(case.first_at) <= limit:
            hours = (exit_at - as_utc(case.first_at)).total_seconds() / 3600
            case.status = Status.CLOSED.value
            session.add(case)
            why = f"withdrawn: an exit delivered late shows a stay of {hours:.1f} h"
            _log_action(session, case, actor="hub", action="withdrawn", reason=why, now=now)
            withdrawn += 1
    return withdrawn


def _exit_after(session: Session, case: Anomaly) -> datetime | None:
    """The first granted exit of the case's person or vehicle after the entry it is about."""
    who, _ = case.key.split("|", 1)
    kind, subject = who.split(":", 1)
    column = col(Entry.credential_ref) if kind == "v" else col(Entry.subject_id)
    first = session.exec(
        select(Entry.occurred_at)
        .where(
            col(Entry.compound_id) == case.compound_id,
            col(Entry.counted).is_(True),
            column == subject,
            col(Entry.direction) == "out",
            col(Entry.outcome) == "granted",
            col(Entry.occurred_at) > case.first_at,
        )
        .order_by(col(Entry.occurred_at))
    ).first()
    return as_utc(first) if first is not None else None


def read_log(
    *, session: Session, compound_id: str, policy: AnalyticsPolicy, now: datetime
) -> anomalies.Log:
    since = now - timedelta(days=policy.anomalies.look_back_days)
    entries = session.exec(
        select(Entry)
        .where(
            col(Entry.compound_id) == compound_id,
            col(Entry.counted).is_(True),
            col(Entry.occurred_at) >= since,
            col(Entry.occurred_at) <= now,
        )
        .order_by(col(Entry.occurred_at), col(Entry.event_id))  # evidence in a stable order
    ).all()
    alarms = session.exec(
        select(Alarm).where(
            col(Alarm.compound_id) == compound_id,
            col(Alarm.occurred_at) >= since,
            col(Alarm.occurred_at) <= now,
        )
    ).all()
    tracker = occupancy.now(
        session=session, compound_id=compound_id, presence=policy.presence, at=now
    )
    return anomalies.Log(
        entries=entries, alarms=alarms, inside=tracker.present(now), now=now, zone=policy.zone
    )


def act(
    *,
    session: Session,
    compound_id: str,
    anomaly_id: int,
    action: Action,
    actor: str,
    reason: str,
    assignee: str | None,
    now: datetime,
) -> Anomaly:
    """One officer's step on a case; the reason is required and kept with the step."""
    if not reason.strip():
        raise InvalidInput("say why: every action on an anomaly keeps its reason")
    anomaly = get(session=session, compound_id=compound_id, anomaly_id=anomaly_id)
    allowed_from, after = TRANSITIONS[action]
    if Status(anomaly.status) not in allowed_from:
        raise Conflict(f"cannot {action.value} an anomaly that is {anomaly.status}")
    if action is Action.ASSIGN:
        if not assignee:
            raise InvalidInput("assign to whom? give an assignee")
        anomaly.assignee = assignee
    if after is not None:
        anomaly.status = after.value
    session.add(anomaly)
    _log_action(session, anomaly, actor=actor, action=action.value, reason=reason.strip(), now=now)
    return anomaly


def get(*, session: Session, compound_id: str, anomaly_id: int) -> Anomaly:
    return owned(session, Anomaly, anomaly_id, compound_id, "anomaly")


def evidence(*, session: Session, anomaly_id: int) -> list[str]:
    query = select(AnomalyEvidence.ref).where(col(AnomalyEvidence.anomaly_id) == anomaly_id)
    return sorted(session.exec(query).all())


def history(*, session: Session, anomaly_id: int) -> Sequence[AnomalyAction]:
    query = (
        select(AnomalyAction)
        .where(col(AnomalyAction.anomaly_id) == anomaly_id)
        .order_by(col(AnomalyAction.at), col(AnomalyAction.id))
    )
    return session.exec(query).all()


def listing(
    *,
    session: Session,
    compound_id: str,
    status: Status | None,
    rule: str | None,
    limit: int,
) -> Sequence[Anomaly]:
    query = select(Anomaly).where(col(Anomaly.compound_id) == compound_id)
    if status is not None:
        query = query.where(col(Anomaly.status) == status.value)
    if rule is not None:
        query = query.where(col(Anomaly.rule) == rule)
    query = query.order_by(col(Anomaly.last_at).desc(), col(Anomaly.id).desc()).limit(limit)
    return session.exec(query).all()


@dataclass
class _Known:
    """The stored cases a scan's findings may update, and their evidence, read in a few
    queries rather than two a finding."""

    cases: dict[tuple[str, str], Anomaly]
    evidence: dict[int, set[str]]

    @classmethod
    def load(cls, session: Session, compound_id: str, findings: list[Finding]) -> _Known:
        keys = sorted({f.key for f in findings})
        cases: dict[tuple[str, str], Anomaly] = {}
        for start in range(0, len(keys), 500):
            rows = session.exec(
                select(Anomaly).where(
                    col(Anomaly.compound_id) == compound_id,
                    col(Anomaly.key).in_(keys[start : start + 500]),
                )
            ).all()
            cases |= {(row.rule, row.key): row for row in rows}
        ids = [case.id for case in cases.values() if case.id is not None]
        evidence: dict[int, set[str]] = {i: set() for i in ids}
        for start in range(0, len(ids), 500):
            found = session.exec(
                select(AnomalyEvidence).where(
                    col(AnomalyEvidence.anomaly_id).in_(ids[start : start + 500])
                )
            ).all()
            for item in found:
                evidence[item.anomaly_id].add(item.ref)
        return cls(cases, evidence)

    def add_evidence(self, session: Session, anomaly: Anomaly, refs: tuple[str, ...]) -> int:
        assert anomaly.id is not None
        known = self.evidence.setdefault(anomaly.id, set())
        fresh = [ref for ref in dict.fromkeys(refs) if ref not in known]
        session.add_all(AnomalyEvidence(anomaly_id=anomaly.id, ref=ref) for ref in fresh)
        known.update(fresh)
        return len(fresh)


def _store(
    session: Session, known: _Known, compound_id: str, finding: Finding, now: datetime
) -> str:
    """'new', 'reopened', 'updated' or 'same'."""
    anomaly = known.cases.get((finding.rule, finding.key))
    if anomaly is None:
        anomaly = Anomaly(
            compound_id=compound_id,
            rule=finding.rule,
            key=finding.key,
            subject=finding.subject,
            summary=finding.summary,
            first_at=finding.first_at,
            last_at=finding.last_at,
            created_at=now,
        )
        session.add(anomaly)
        session.flush()
        known.cases[(finding.rule, finding.key)] = anomaly
        known.add_evidence(session, anomaly, finding.evidence)
        _log_action(session, anomaly, actor="hub", action="found", reason=finding.summary, now=now)
        return "new"
    if not known.add_evidence(session, anomaly, finding.evidence):
        return "same"
    anomaly.summary = finding.summary
    anomaly.last_at = max(as_utc(anomaly.last_at), finding.last_at)
    if anomaly.status == Status.CLOSED.value:
        anomaly.status = Status.OPEN.value
        why = "new evidence after closing"
        _log_action(session, anomaly, actor="hub", action="reopened", reason=why, now=now)
        session.add(anomaly)
        return "reopened"
    session.add(anomaly)
    return "updated"


def _log_action(
    session: Session, anomaly: Anomaly, *, actor: str, action: str, reason: str, now: datetime
) -> None:
    assert anomaly.id is not None
    session.add(
        AnomalyAction(
            anomaly_id=anomaly.id,
            actor=actor,
            action=action,
            status=anomaly.status,
            assignee=anomaly.assignee,
            reason=reason[:500],
            at=now,
        )
    )


@dataclass(frozen=True)
class CaseFile:
    """One case with what it rests on: its evidence's references, the entries among them
    still in the log, and the steps taken on it."""

    anomaly: Anomaly
    evidence: list[str]
    entries: Sequence[Entry]
    history: Sequence[AnomalyAction]


def case_file(*, session: Session, anomaly: Anomaly) -> CaseFile:
    assert anomaly.id is not None
    refs = evidence(session=session, anomaly_id=anomaly.id)
    ids = [uuid.UUID(ref) for ref in refs if not ref.startswith("alarm:")]
    entries = session.exec(
        select(Entry).where(col(Entry.event_id).in_(ids)).order_by(col(Entry.occurred_at))
    ).all()
    steps = history(session=session, anomaly_id=anomaly.id)
    return CaseFile(anomaly=anomaly, evidence=refs, entries=entries, history=steps)
