"""Visitor anomalies: rules over the recent entry log and alarms, each finding a `Finding`
with the events that show it. Pure functions of what they are given; `casework` stores them.

Rules (thresholds in `AnomalyRules`):
- overstay: a visitor or a visitor's (or unknown) vehicle inside longer than `overstay_hours`
  (staff on a long shift are not visitors);
- repeated_denials: one credential, person or plate denied `denials` times, each within
  `denials_minutes` of the one before (one case a credential, reopened by a new run);
- returning_unknown: an unknown face (by its pseudonym) or unknown plate seen on
  `returning_days` distinct local days within `returning_window_days`;
- night_entry: a visitor let in between `night_start` and `night_end`, local time;
- pass_misuse: a pass refused as used up, revoked, forged or foreign, or a visitor let in past
  anti-passback;
- pass_overused: the hub's count found a pass used offline beyond its global limit;
- tailgating: the gate's beam counted more passages than grants;
- watchlist: a watchlisted person or plate at a gate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.analytics.occupancy import Passage
from hub.analytics.policy import AnomalyRules
from hub.tables import Alarm, Entry, as_utc
from models.events import Method, Outcome, SubjectKind

MAX_EVIDENCE = 50
VISITING = frozenset({SubjectKind.VISITOR.value, SubjectKind.UNKNOWN.value})  # not staff
PASS_REFUSALS = frozenset({"pass_used_up", "pass_revoked", "qr_forged", "qr_foreign"})
PASS_FLAGS = frozenset({"passback", "offline_passback"})
WATCHLIST_CODES = frozenset({"watchlist", "watchlist_hit"})  # refused, or let in and flagged
GATE_ALARMS = {"tailgating": "tailgating", "passage_without_grant": "tailgating"}


@dataclass(frozen=True)
class Finding:
    rule: str
    key: str
    subject: str | None
    summary: str
    evidence: tuple[str, ...]
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Log:
    """What one scan reads: the window's entries and alarms, who is inside, and when."""

    entries: Sequence[Entry]
    alarms: Sequence[Alarm]
    inside: Sequence[Passage]
    now: datetime
    zone: ZoneInfo


Rule = Callable[[Log, AnomalyRules], Iterable[Finding]]


def overstay(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    limit = timedelta(hours=rules.overstay_hours)
    for passage in log.inside:
        if passage.kind not in VISITING or log.now - passage.at <= limit:
            continue
        subject = passage.key.split(":", 1)[1]
        hours = (log.now - passage.at).total_seconds() / 3600
        what = "vehicle" if passage.vehicle else passage.kind
        yield Finding(
            rule="overstay",
            key=f"{passage.key}|{passage.event_id}",
            subject=subject,
            summary=f"{what} {subject} inside for {hours:.1f} h (limit {rules.overstay_hours:g} h)",
            evidence=(passage.event_id,),
            first_at=passage.at,
            last_at=passage.at,
        )


def repeated_denials(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    gap = timedelta(minutes=rules.denials_minutes)
    by_who: dict[str, list[Entry]] = defaultdict(list)
    for entry in log.entries:
        if entry.outcome == Outcome.DENIED.value:
            by_who[_identity(entry)].append(entry)
    for who, denials in by_who.items():
        for run in _runs(denials, gap):
            if len(run) >= rules.denials:
                yield _finding(
                    "repeated_denials",
                    who,  # one case a credential: a late denial or a new run adds evidence
                    who,
                    f"{who}: {len(run)} denials in a row, each within "
                    f"{rules.denials_minutes:g} min of the last",
                    run,
                )


def returning_unknown(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    since = log.now - timedelta(days=rules.returning_window_days)
    sightings: dict[str, list[Entry]] = defaultdict(list)
    for entry in log.entries:
        if entry.subject_kind == SubjectKind.UNKNOWN.value and as_utc(entry.occurred_at) >= since:
            who = _unknown_identity(entry)
            if who is not None:
                sightings[who].append(entry)
    for who, seen in sightings.items():
        days = {_local(e.occurred_at, log.zone).date() for e in seen}
        if len(days) >= rules.returning_days:
            yield _finding(
                "returning_unknown",
                who,
                who,
                f"unknown {who} came on {len(days)} days in {rules.returning_window_days} days",
                seen,
            )


def night_entry(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    for entry in log.entries:
        if (
            entry.subject_kind == SubjectKind.VISITOR.value
            and entry.outcome == Outcome.GRANTED.value
            and entry.direction == "in"
            and _at_night(_local(entry.occurred_at, log.zone).time(), rules)
        ):
            who = _identity(entry)
            when = _local(entry.occurred_at, log.zone).strftime("%H:%M")
            yield _finding(
                "night_entry", str(entry.event_id), who, f"visitor {who} let in at {when}", [entry]
            )


def pass_misuse(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    for entry in log.entries:
        flags = set(entry.flags.split())
        if entry.reason_code in PASS_REFUSALS or (
            flags & PASS_FLAGS
            and entry.outcome == Outcome.GRANTED.value
            and entry.subject_kind == SubjectKind.VISITOR.value
        ):
            why = entry.reason_code if entry.reason_code in PASS_REFUSALS else "anti-passback"
            who = _identity(entry)
            yield _finding(
                "pass_misuse", str(entry.event_id), who, f"{who}: {why} at {entry.gate_id}", [entry]
            )


def pass_overused(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    for alarm in log.alarms:
        if alarm.code == "pass_overused":
            yield _alarm_finding("pass_overused", alarm)


def tailgating(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    for alarm in log.alarms:
        if alarm.code in GATE_ALARMS:
            yield _alarm_finding(GATE_ALARMS[alarm.code], alarm)


def watchlist(log: Log, rules: AnomalyRules) -> Iterable[Finding]:
    for entry in log.entries:
        if "watchlist" in entry.flags.split() or entry.reason_code in WATCHLIST_CODES:
            who = _identity(entry)
            summary = f"watchlisted {who} at {entry.gate_id}"
            yield _finding("watchlist", str(entry.event_id), who, summary, [entry])


RULES: dict[str, Rule] = {
    "overstay": overstay,
    "repeated_denials": repeated_denials,
    "returning_unknown": returning_unknown,
    "night_entry": night_entry,
    "pass_misuse": pass_misuse,
    "pass_overused": pass_overused,
    "tailgating": tailgating,
    "watchlist": watchlist,
}


def find(log: Log, rules: AnomalyRules) -> list[Finding]:
    return [finding for rule in RULES.values() for finding in rule(log, rules)]


def _identity(entry: Entry) -> str:
    if entry.method == Method.PLATE.value and entry.credential_ref:
        return entry.credential_ref
    if entry.subject_id:
        return entry.subject_id
    return f"{entry.method}:{entry.credential_ref or '?'}"


def _unknown_identity(entry: Entry) -> str | None:
    if entry.method == Method.PLATE.value:
        return entry.credential_ref
    if entry.method == Method.FACE.value:
        return entry.subject_id
    return None


def _runs(entries: list[Entry], gap: timedelta) -> Iterable[list[Entry]]:
    ordered = sorted(entries, key=lambda e: (as_utc(e.occurred_at), str(e.event_id)))
    run: list[Entry] = []
    for entry in ordered:
        if run and as_utc(entry.occurred_at) - as_utc(run[-1].occurred_at) > gap:
            yield run
            run = []
        run.append(entry)
    if run:
        yield run


def _at_night(clock: time, rules: AnomalyRules) -> bool:
    if rules.night_start <= rules.night_end:
        return rules.night_start <= clock < rules.night_end
    return clock >= rules.night_start or clock < rules.night_end


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return as_utc(at).astimezone(zone)


def _finding(
    rule: str, key: str, subject: str | None, summary: str, events: list[Entry]
) -> Finding:
    times = [as_utc(e.occurred_at) for e in events]
    return Finding(
        rule=rule,
        key=key,
        subject=subject,
        summary=summary,
        evidence=tuple(str(e.event_id) for e in events[-MAX_EVIDENCE:]),
        first_at=min(times),
        last_at=max(times),
    )


def _alarm_finding(rule: str, alarm: Alarm) -> Finding:
    ref = str(alarm.event_id) if alarm.event_id else f"alarm:{alarm.id}"
    at = as_utc(alarm.occurred_at)
    return Finding(
        rule=rule,
        key=ref,
        subject=alarm.gate_id,
        summary=alarm.text[:500],
        evidence=(ref,),
        first_at=at,
        last_at=at,
    )
