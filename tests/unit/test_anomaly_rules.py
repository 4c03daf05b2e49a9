"""Each anomaly rule on a case that should fire and on one that should not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.analytics import anomalies
from hub.analytics.anomalies import Log
from hub.analytics.occupancy import Passage
from hub.analytics.policy import AnomalyRules
from hub.tables import Alarm, Entry

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 20:00 in Beijing
ZONE = ZoneInfo("Asia/Shanghai")
RULES = AnomalyRules()


def entry(
    minutes_ago: float,
    *,
    who: str | None = "v-1",
    kind: str = "visitor",
    method: str = "card",
    ref: str | None = "1001",
    outcome: str = "granted",
    direction: str = "in",
    reason_code: str = "card_valid",
    flags: str = "",
) -> Entry:
    return Entry(
        event_id=uuid.uuid4(),
        edge_id="edge-1",
        epoch=uuid.uuid4(),
        seq=1,
        compound_id="c1",
        gate_id="east-gate",
        lane="pedestrian-in",
        direction=direction,
        occurred_at=NOW - timedelta(minutes=minutes_ago),
        subject_kind=kind,
        subject_id=who,
        method=method,
        credential_ref=ref,
        outcome=outcome,
        reason_code=reason_code,
        reason="…",
        flags=flags,
    )


def log(entries=(), alarms=(), inside=()) -> Log:
    return Log(entries=list(entries), alarms=list(alarms), inside=list(inside), now=NOW, zone=ZONE)


def fired(rule: str, the_log: Log, rules: AnomalyRules = RULES) -> list[anomalies.Finding]:
    return list(anomalies.RULES[rule](the_log, rules))


def inside(hours_ago: float, kind: str = "visitor", vehicle: bool = False) -> Passage:
    key = "v:粤B12345" if vehicle else "p:v-1"
    return Passage("e-1", key, vehicle, kind, True, NOW - timedelta(hours=hours_ago))


def test_overstay_fires_past_the_limit_and_never_for_residents() -> None:
    assert len(fired("overstay", log(inside=[inside(13)]))) == 1
    assert fired("overstay", log(inside=[inside(11)])) == []
    assert fired("overstay", log(inside=[inside(30, kind="resident")])) == []
    assert fired("overstay", log(inside=[inside(14, kind="staff")])) == []
    [car] = fired("overstay", log(inside=[inside(13, kind="unknown", vehicle=True)]))
    assert car.subject == "粤B12345"


def test_repeated_denials_need_the_count_within_the_gap() -> None:
    close = [entry(m, outcome="denied", reason_code="card_unknown") for m in (30, 25, 20)]
    [finding] = fired("repeated_denials", log(close))
    assert len(finding.evidence) == 3
    assert finding.key == "v-1", "one case a credential, whatever run is first"
    apart = [entry(m, outcome="denied") for m in (60, 45, 30)]  # 15 minutes apart
    assert fired("repeated_denials", log(apart)) == []
    two = [entry(m, outcome="denied") for m in (30, 25)]
    assert fired("repeated_denials", log(two)) == []


def test_returning_unknown_counts_distinct_days_for_faces_and_plates() -> None:
    days = [60 * 24 * d + 5 for d in (0, 1, 3)]
    faces = [
        entry(m, who="unknown-7f", kind="unknown", method="face", outcome="denied") for m in days
    ]
    [finding] = fired("returning_unknown", log(faces))
    assert finding.subject == "unknown-7f"
    plates = [
        entry(m, who=None, kind="unknown", method="plate", ref="粤B88888", outcome="denied")
        for m in days
    ]
    assert [f.subject for f in fired("returning_unknown", log(plates))] == ["粤B88888"]
    same_day = [entry(m, who="unknown-7f", kind="unknown", method="face") for m in (5, 60, 120)]
    assert fired("returning_unknown", log(same_day)) == []


def test_night_entry_is_a_visitor_let_in_at_night_local_time() -> None:
    # NOW is 20:00 in Beijing; 22 hours ago was 22:00, 19 hours ago 01:00.
    assert len(fired("night_entry", log([entry(19 * 60)]))) == 1
    assert fired("night_entry", log([entry(22 * 60)])) == []
    assert fired("night_entry", log([entry(19 * 60, kind="resident")])) == []
    assert fired("night_entry", log([entry(19 * 60, outcome="denied")])) == []
    evening = AnomalyRules(night_start=time(21, 0), night_end=time(6, 0))
    assert len(fired("night_entry", log([entry(22 * 60)]), evening)) == 1


def test_pass_misuse_is_a_refused_pass_or_a_soft_passback_grant() -> None:
    used_up = entry(5, method="qr", outcome="denied", reason_code="pass_used_up")
    passback = entry(5, method="qr", reason_code="pass_valid", flags="passback")
    assert len(fired("pass_misuse", log([used_up, passback]))) == 2
    resident = entry(5, kind="resident", reason_code="card_valid", flags="passback")
    assert fired("pass_misuse", log([resident])) == [], "a resident's card is not a pass"
    fine = entry(5, method="qr", reason_code="pass_valid")
    unknown_card = entry(5, outcome="denied", reason_code="card_unknown")
    assert fired("pass_misuse", log([fine, unknown_card])) == []


def alarm(code: str, alarm_id: int = 1) -> Alarm:
    return Alarm(
        id=alarm_id,
        event_id=uuid.uuid4() if code != "pass_overused" else None,
        source="edge",
        compound_id="c1",
        gate_id="east-gate",
        code=code,
        severity="warning",
        text=f"{code} at the east gate",
        occurred_at=NOW - timedelta(minutes=3),
    )


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("tailgating", "tailgating"),
        ("tailgating", "passage_without_grant"),
        ("pass_overused", "pass_overused"),
    ],
)
def test_alarm_rules_fire_on_their_codes_only(rule: str, code: str) -> None:
    [finding] = fired(rule, log(alarms=[alarm(code)]))
    assert finding.evidence[0] == finding.key
    assert fired(rule, log(alarms=[alarm("door_held_open")])) == []


def test_overused_pass_alarms_from_the_hub_are_keyed_by_their_row() -> None:
    [finding] = fired("pass_overused", log(alarms=[alarm("pass_overused", alarm_id=42)]))
    assert finding.key == "alarm:42"


def test_watchlist_fires_on_the_flag_or_the_reason() -> None:
    flagged = entry(5, kind="resident", flags="watchlist")
    denied = entry(5, method="plate", ref="粤B66666", outcome="denied", reason_code="watchlist")
    subjects = [f.subject for f in fired("watchlist", log([flagged, denied]))]
    assert subjects == ["v-1", "粤B66666"]
    assert fired("watchlist", log([entry(5, flags="plate_near")])) == []
