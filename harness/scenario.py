"""Plays a simulated day (`firmware_mocks.scenario`) through a whole compound and compares the
hub's figures with the day's truth.

The hub, the edge and the broker are the real ones, each its own process; the reads come in
through the reader and ANPR-camera mocks, over their protocols; the edge's MQTT link runs
through a relay that the player cuts for the offline hour. The edge takes its time from a
replay clock that the player sets before each read, so two days and a prologue play in a
minute or two. Passes are issued through the hub's API (valid over the simulated days and
the real present, since the hub counts their entries on its own clock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from firmware_mocks.anpr_camera import AnprCamera
from firmware_mocks.card_reader import CardReader, Swipe
from firmware_mocks.network import Link
from firmware_mocks.scenario import Action, Channel, Person, Plan
from harness.compound import Compound, Resident
from harness.processes import wait_until
from hub.core.db import make_engine
from hub.tables import Entry, Receipt, as_utc
from models.events import SubjectKind

REPEAT_GAP_S = 0.3  # the edge's ANPR repeat window is 0.2 s in this layout


@dataclass
class Report:
    actions: int
    events_expected: int
    events_stored: int
    unexpected_answers: list[str]
    occupancy_error: int
    hourly_errors: list[int]
    offline_events: int
    offline_events_late: int
    planted_anomalies: int
    found_anomalies: int
    false_anomalies: int
    withdrawn_anomalies: int = 0
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    play_s: float = 0.0


class Player:
    def __init__(self, plan: Plan, workdir: Path, mqtt_url: str) -> None:
        self.plan = plan
        host, port = mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
        self.link = Link((host, int(port))).start()
        workdir.mkdir(parents=True, exist_ok=True)
        self.clock = workdir / "replay-clock"
        self.set_clock(plan.actions[0].at - timedelta(minutes=5))
        self.compound = Compound(
            workdir,
            mqtt_url,
            compound_id="scenario",
            edge_id="gate-main",
            people=[_resident(p) for p in plan.people],
            resend_after_s=3.0,
            edge_mqtt_url=f"mqtt://127.0.0.1:{self.link.port}",
            replay_clock=self.clock,
            car_lanes=("in", "out"),
            # The simulated days are in the past: the compound was in service before them.
            in_service_since=min(a.at for a in plan.actions) - timedelta(hours=1),
        )
        self.tokens: dict[str, str] = {}
        self.unexpected: list[str] = []
        self.restored_at: datetime | None = None
        self._last_push: dict[tuple[str, str], float] = {}
        self.made = 0  # events the reads so far made
        self.held = 0  # of them, made while the edge was cut off

    def set_clock(self, at: datetime) -> None:
        skewed = at + timedelta(seconds=self.plan.skewed(at))
        spare = self.clock.with_suffix(".new")
        spare.write_text(skewed.astimezone(UTC).isoformat(), encoding="ascii")
        spare.replace(self.clock)

    def start(self) -> None:
        self.compound.prepare()
        self.compound.start_hub()
        self.issue_passes()
        self.compound.start_edge()
        last = self.plan.passes[-1].pass_id
        wanted = self.plan.watchlist[-1]
        wait_until(
            lambda: last in (r := self.compound.edge_registry()) and wanted in r,
            60,
            "the passes and the watchlist at the edge",
        )

    def issue_passes(self) -> None:
        """As residents and staff would: each visitor's pass, and the watchlisted plate."""
        valid_from = self.plan.actions[0].at - timedelta(hours=1)
        valid_until = datetime.now(UTC) + timedelta(hours=6)
        for visit in self.plan.passes:
            body = {
                "id": visit.pass_id,
                "unit_id": visit.unit_id,
                "visitor_name": visit.visitor_name,
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "max_entries": visit.max_entries,
                "plate": visit.plate,
            }
            response = self.compound.request("POST", "/api/passes", json=body)
            self.tokens[visit.pass_id] = str(response.json()["token"])
        for n, plate in enumerate(self.plan.watchlist):
            body = {
                "id": f"watch-{n}",
                "target": "plate",
                "value": plate,
                "action": "deny",
                "reason": "reported by the district police",
            }
            self.compound.request("POST", "/api/watchlist", json=body)

    def play(self) -> float:
        """Every read in time order; returns how long it took."""
        started = time.monotonic()
        readers = {d: CardReader("127.0.0.1", p) for d, p in self.compound.reader_ports.items()}
        cameras = {
            d: AnprCamera(self.compound.anpr_url, device, password)
            for d, (device, password) in self.compound.anpr_cameras.items()
        }
        offline_from, offline_until = self.plan.offline()
        hours = iter(self.plan.hours()[1:])
        next_hour = next(hours)
        try:
            for action in self.plan.actions:
                while next_hour is not None and action.at > next_hour:
                    self.scan_when_delivered(next_hour)
                    next_hour = next(hours, None)
                self.cut_or_restore(offline_from <= action.at < offline_until)
                self.set_clock(action.at)
                self.check(action, self.perform(action, readers, cameras))
                if action.makes_event:
                    self.made += 1
                    self.held += 0 if self.link.up else 1
        finally:
            self.link.restore()
            for reader in readers.values():
                reader.close()
        return time.monotonic() - started

    def cut_or_restore(self, offline: bool) -> None:
        if offline and self.link.up:
            self.link.cut()
        elif not offline and not self.link.up:
            # Taken before the link is back: whatever arrives from then on arrived late, even
            # when this thread is not scheduled again until the edge has re-sent everything.
            self.restored_at = datetime.now(UTC)
            self.link.restore()

    def perform(
        self, action: Action, readers: dict[str, CardReader], cameras: dict[str, AnprCamera]
    ) -> str:
        if action.channel is Channel.CARD:
            return readers[action.direction].present(Swipe(int(action.credential))).result
        if action.channel is Channel.QR:
            return readers[action.direction].show_qr(self.tokens[action.credential])
        key = (action.direction, action.credential)
        if action.fault != "duplicate":  # a new passage: clear of the camera's repeat window
            wait = self._last_push.get(key, 0.0) + REPEAT_GAP_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_push[key] = time.monotonic()
        return str(cameras[action.direction].push(action.credential).body.get("result"))

    def check(self, action: Action, answer: str) -> None:
        if answer != action.expect:
            local = action.at.astimezone(self.plan.hours()[0].tzinfo).strftime("%m-%d %H:%M")
            self.unexpected.append(
                f"{local} {action.channel} {action.direction} {action.credential}:"
                f" {answer}, expected {action.expect}"
            )

    def scan_when_delivered(self, at: datetime) -> None:
        """The hour's scan, once the hub holds every event made so far (but those the cut-off
        edge still holds): on a busy machine delivery takes longer, not a different course."""
        due = self.made - (0 if self.link.up else self.held)
        wait_until(lambda: _stored(self.compound) >= due, 120, f"the {due} events before {at}")
        self.scan(at)

    def scan(self, at: datetime) -> None:
        self.compound.request("POST", "/api/anomalies/scan", params={"at": at.isoformat()})

    def stop(self) -> None:
        self.compound.stop()
        self.link.close()


def run(plan: Plan, workdir: Path, mqtt_url: str, progress: Callable[[str], None]) -> Report:
    player = Player(plan, workdir, mqtt_url)
    try:
        progress("laying out the compound")
        player.start()
        progress(f"playing {len(plan.actions)} reads")
        play_s = player.play()
        expected = sum(a.makes_event for a in plan.actions)
        progress("waiting for the offline hour's events")
        wait_until(lambda: _stored(player.compound) >= expected, 180, "every event at the hub")
        player.scan(plan.hours()[-1])
        report = compare(plan, player.compound, expected)
        report.offline_events, report.offline_events_late = _late(
            player.compound, plan.offline(), player.restored_at
        )
        report.unexpected_answers = player.unexpected
        report.play_s = round(play_s, 1)
        return report
    finally:
        player.stop()


def compare(plan: Plan, compound: Compound, expected: int) -> Report:
    hours = plan.hours()
    series = compound.get(
        "/api/occupancy/series",
        since=hours[0].isoformat(),
        until=hours[-1].isoformat(),
        step_minutes=60,
    ).json()
    errors = [
        sum(abs(point["people"][k] - truth.people[k]) for k in truth.people)
        + abs(sum(point["vehicles"].values()) - sum(truth.vehicles.values()))
        for point, truth in zip(series, plan.truth, strict=True)
    ]
    found = compound.get("/api/anomalies", limit=500).json()
    names = [f"{a['rule']}: {a['subject']} {a['summary']}" for a in found]
    matched = [p for p in plan.planted if any(_names(p.rule, p.token, a) for a in found)]
    withdrawn = [a for a in found if _withdrawn(compound, a)]
    false = [
        n
        for a, n in zip(found, names, strict=True)
        if not any(_names(p.rule, p.token, a) for p in plan.planted) and a not in withdrawn
    ]
    return Report(
        actions=len(plan.actions),
        events_expected=expected,
        events_stored=_stored(compound),
        unexpected_answers=[],
        offline_events=0,
        offline_events_late=0,
        occupancy_error=sum(errors),
        hourly_errors=errors,
        planted_anomalies=len(plan.planted),
        found_anomalies=len(matched),
        false_anomalies=len(false),
        missed=[f"{p.rule}: {p.token}" for p in plan.planted if p not in matched],
        false=false,
        withdrawn_anomalies=len(withdrawn),
    )


def _withdrawn(compound: Compound, anomaly: dict[str, object]) -> bool:
    """Raised, then closed by the hub itself when late events disproved it."""
    if anomaly["status"] != "closed":
        return False
    history = compound.get(f"/api/anomalies/{anomaly['id']}").json()["history"]
    return any(step["action"] == "withdrawn" for step in history)


def _names(rule: str, token: str, anomaly: dict[str, object]) -> bool:
    said = f"{anomaly['subject']} {anomaly['summary']}"
    return anomaly["rule"] == rule and token in said


def _late(
    compound: Compound, window: tuple[datetime, datetime], restored_at: datetime | None
) -> tuple[int, int]:
    """Events of the offline hour, and how many of them the hub received only after the link
    came back (read from the hub's receipts, the ledger of what arrived when)."""
    engine = make_engine(compound.database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(Receipt.received_at)
                .join(Entry, col(Entry.event_id) == col(Receipt.event_id))
                .where(
                    col(Entry.occurred_at) >= window[0].astimezone(UTC),
                    col(Entry.occurred_at) < window[1].astimezone(UTC),
                )
            ).all()
    finally:
        engine.dispose()
    late = sum(restored_at is not None and as_utc(at) >= restored_at for at in rows)
    return len(rows), late


def _stored(compound: Compound) -> int:
    return len(compound.all_entries())


def _resident(person: Person) -> Resident:
    kind = SubjectKind.STAFF if person.kind == "staff" else SubjectKind.RESIDENT
    return Resident(person.person_id, person.name, kind, person.unit_id, person.card, person.plate)
