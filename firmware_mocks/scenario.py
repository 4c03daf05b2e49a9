"""A simulated day at a compound, and its ground truth.

The generator knows nothing of the hub: it plans what people and vehicles do (who arrives
and leaves when, through which reader or camera), the faults a real gate produces, and the
anomalies planted among them, and it writes down what is physically true: who and what is
inside at every hour, and which anomalies a good system should find. `harness.scenario` plays
the plan through the mocks, the edge, a broker and the hub, and compares.

The plan, for `Size(residents, visitors, vehicles, staff)`:
- residents live in households of one to four; those at home came in the evening before
  (a prologue on the previous day); on the day most go out and come back, some twice, some
  stay in, a few leave for the night; staff work a shift; visitors come with a QR pass for
  a few hours (half of them by car, with the plate on the pass); residents' cars go out and
  back through the ANPR cameras;
- faults: a card misread (a garbled number, refused) before the right read; a card read
  twice within a second; an ANPR camera pushing the same plate twice; the edge cut off from
  the broker for the hour from 14:00 (its events arrive late); the edge's clock a minute
  fast from 16:00 to 17:00;
- planted anomalies: two visitors who stay (overstay), a visitor let in at 01:30 (night
  entry), a one-entry pass shown again (pass misuse), an unregistered card tried four times
  in a few minutes (repeated denials, during the offline hour), an unknown van that comes on
  three days (returning unknown), a watchlisted plate.
- Nothing is planned within two minutes of a full hour, so that hourly counts compare the
  system and not a reader's latency or the skewed clock.
- People are counted as pedestrians and vehicles by plate (a car's driver is not a
  pedestrian passage), as the hub's documented occupancy policy says.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
OFFLINE_HOUR = 14
SKEW_HOUR, SKEW_S = 16, 60.0


class Channel(StrEnum):
    CARD = "card"
    QR = "qr"
    PLATE = "plate"


@dataclass(frozen=True)
class Size:
    residents: int = 500
    visitors: int = 100
    vehicles: int = 200
    staff: int = 10


CI_SIZE = Size(residents=40, visitors=10, vehicles=16, staff=2)


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    kind: str  # resident or staff
    unit_id: str
    card: int
    plate: str = ""


@dataclass(frozen=True)
class Pass:
    pass_id: str
    unit_id: str
    visitor_name: str
    plate: str | None
    max_entries: int = 1


@dataclass(frozen=True)
class Action:
    at: datetime  # true time (UTC)
    channel: Channel
    direction: str
    credential: str  # card number, pass id, or plate
    expect: str  # granted or denied
    fault: str = ""  # misread, duplicate (no event: the camera repeats itself), or planted

    @property
    def makes_event(self) -> bool:
        return not (self.channel is Channel.PLATE and self.fault == "duplicate")


@dataclass(frozen=True)
class Planted:
    rule: str
    token: str  # what the anomaly must name: a pass id, a plate or a card number


@dataclass(frozen=True)
class HourCount:
    at: datetime
    people: dict[str, int]
    vehicles: dict[str, int]


@dataclass
class Plan:
    day: date
    people: list[Person]
    passes: list[Pass]
    watchlist: list[str]
    actions: list[Action] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    truth: list[HourCount] = field(default_factory=list)

    def offline(self) -> tuple[datetime, datetime]:
        start = local(self.day, time(OFFLINE_HOUR))
        return start, start + timedelta(hours=1)

    def skewed(self, at: datetime) -> float:
        start = local(self.day, time(SKEW_HOUR))
        return SKEW_S if start <= at < start + timedelta(hours=1) else 0.0

    def hours(self) -> list[datetime]:
        start = local(self.day, time())
        return [start + timedelta(hours=h) for h in range(25)]

    def write(self, path: Path) -> None:
        body = {
            "day": self.day.isoformat(),
            "planted": [asdict(p) for p in self.planted],
            "hours": [
                {"at": h.at.isoformat(), "people": h.people, "vehicles": h.vehicles}
                for h in self.truth
            ],
            "actions": len(self.actions),
            "events": sum(a.makes_event for a in self.actions),
        }
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")


def local(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, ZONE)


class _Planner:
    """Builds a plan: each presence is an interval, turned into reads with their faults."""

    def __init__(self, day: date, size: Size, seed: int) -> None:
        self.day = day
        self.size = size
        self.rng = random.Random(seed)
        self.plan = Plan(day=day, people=[], passes=[], watchlist=[])
        self.stays: list[tuple[str, str, datetime, datetime | None]] = []  # key, class, in, out
        self.used_plates: set[str] = set()

    def at(self, offset_days: int, start: float, end: float) -> datetime:
        """A random moment between two local hours of a day, clear of every full hour."""
        day = self.day + timedelta(days=offset_days)
        while True:
            hours = self.rng.uniform(start, end)
            minute = (hours * 60) % 60
            if 3 <= minute < 57:
                moment = local(day, time()) + timedelta(hours=hours)
                return moment.replace(microsecond=0)

    def plate(self) -> str:
        """An ordinary plate: 粤B, four digits, and a digit or a letter."""
        while True:
            digits = "".join(self.rng.choice("0123456789") for _ in range(4))
            plate = f"粤B{digits}{self.rng.choice('0123456789ACEHKLMNPRTUVWXY')}"
            if plate not in self.used_plates:
                self.used_plates.add(plate)
                return plate

    def card_reads(self, card: int, direction: str, at: datetime) -> None:
        roll = self.rng.random()
        if roll < 0.03:  # a misread: a garbled number first, then the right one
            garbled = 9_000_000 + self.rng.randrange(900_000)
            self.act(
                at - timedelta(seconds=4),
                Channel.CARD,
                direction,
                str(garbled),
                "denied",
                fault="misread",
            )
        self.act(at, Channel.CARD, direction, str(card), "granted")
        if 0.03 <= roll < 0.05:  # the reader sends the same card twice
            self.act(
                at + timedelta(milliseconds=600),
                Channel.CARD,
                direction,
                str(card),
                "granted",
                fault="duplicate",
            )

    def plate_reads(
        self, plate: str, direction: str, at: datetime, expect: str = "granted"
    ) -> None:
        self.act(at, Channel.PLATE, direction, plate, expect)
        if self.rng.random() < 0.05:
            self.act(
                at + timedelta(milliseconds=300),
                Channel.PLATE,
                direction,
                plate,
                expect,
                fault="duplicate",
            )

    def act(
        self,
        at: datetime,
        channel: Channel,
        direction: str,
        credential: str,
        expect: str,
        *,
        fault: str = "",
    ) -> None:
        self.plan.actions.append(Action(at, channel, direction, credential, expect, fault))

    def stay(self, key: str, kind: str, entered: datetime, left: datetime | None) -> None:
        self.stays.append((key, kind, entered, left))

    # The people.

    def residents(self) -> None:
        n, unit = 0, 0
        while n < self.size.residents:
            unit += 1
            building = 1 + unit % 12
            unit_id = f"b{building}-{100 * (1 + unit // 48 % 30) + unit % 4 + 1}-{unit}"
            for _ in range(min(self.rng.randint(1, 4), self.size.residents - n)):
                n += 1
                person = Person(f"r-{n:04d}", f"住户{n}", "resident", unit_id, 100_000 + n)
                self.plan.people.append(person)
                self.resident_day(person)

    def resident_day(self, person: Person) -> None:
        card = person.card
        key = f"p:{person.person_id}"
        home = self.at(-1, 17.1, 23.8)  # came home the evening before
        self.card_reads(card, "in", home)
        pattern = self.rng.random()
        if pattern < 0.10:  # stays in all day
            self.stay(key, "resident", home, None)
            return
        out = self.at(0, 6.5, 10.0)
        self.card_reads(card, "out", out)
        self.stay(key, "resident", home, out)
        if pattern < 0.15:  # away for the night
            return
        back = self.at(0, 16.2, 22.5)
        if pattern < 0.35:  # home for lunch and out again
            lunch_in, lunch_out = self.at(0, 11.1, 12.0), self.at(0, 12.6, 13.5)
            self.card_reads(card, "in", lunch_in)
            self.card_reads(card, "out", lunch_out)
            self.stay(key, "resident", lunch_in, lunch_out)
        self.card_reads(card, "in", back)
        self.stay(key, "resident", back, None)

    def staff(self) -> None:
        for n in range(1, self.size.staff + 1):
            person = Person(f"s-{n:03d}", f"员工{n}", "staff", "office", 200_000 + n)
            self.plan.people.append(person)
            start, end = self.at(0, 6.1, 9.0), self.at(0, 15.1, 19.9)
            self.card_reads(person.card, "in", start)
            self.card_reads(person.card, "out", end)
            self.stay(f"p:{person.person_id}", "staff", start, end)

    def cars(self) -> None:
        owners = [p for p in self.plan.people if p.kind == "resident"]
        count = min(len(owners), self.size.vehicles - self.size.visitors // 2)
        for i, owner in enumerate(self.rng.sample(owners, count)):
            plate = self.plate()
            index = self.plan.people.index(owner)
            self.plan.people[index] = Person(**{**asdict(owner), "plate": plate})
            key = f"v:{plate}"
            home = self.at(-1, 17.1, 23.5)
            self.plate_reads(plate, "in", home)
            if i % 5 == 0:  # not used today
                self.stay(key, "resident", home, None)
                continue
            out, back = self.at(0, 6.5, 9.8), self.at(0, 16.5, 21.9)
            self.plate_reads(plate, "out", out)
            self.plate_reads(plate, "in", back)
            self.stay(key, "resident", home, out)
            self.stay(key, "resident", back, None)

    def visitors(self) -> None:
        units = sorted({p.unit_id for p in self.plan.people if p.kind == "resident"})
        for n in range(1, self.size.visitors + 1):
            by_car = n % 2 == 0
            plate = self.plate() if by_car else None
            visit = Pass(f"pass-{n:03d}", self.rng.choice(units), f"访客{n}", plate)
            self.plan.passes.append(visit)
            arrive = self.at(0, 9.1, 20.0)
            leave = min(
                arrive + timedelta(hours=self.rng.uniform(0.4, 6.0)), self.at(0, 22.5, 22.9)
            )
            leave = self.clear_of_hours(leave)
            if plate:
                self.plate_reads(plate, "in", arrive)
                self.plate_reads(plate, "out", leave)
                self.stay(f"v:{plate}", "other", arrive, leave)
            else:
                self.act(arrive, Channel.QR, "in", visit.pass_id, "granted")
                self.act(leave, Channel.QR, "out", visit.pass_id, "granted")
                self.stay(f"p:{visit.pass_id}", "visitor", arrive, leave)

    def clear_of_hours(self, at: datetime) -> datetime:
        minute = at.minute + at.second / 60
        if minute < 2:
            return at + timedelta(minutes=3)
        if minute >= 58:
            return at - timedelta(minutes=3)
        return at

    # What a good system should find.

    def planted(self) -> None:
        units = sorted({p.unit_id for p in self.plan.people if p.kind == "resident"})
        plant = self.plan.planted
        for n in (1, 2):  # they came for the day and stayed
            visit = self.new_pass(f"pass-stay-{n}", units[n % len(units)])
            arrive = self.at(0, 7.6, 8.5)
            self.act(arrive, Channel.QR, "in", visit.pass_id, "granted")
            self.stay(f"p:{visit.pass_id}", "visitor", arrive, None)
            plant.append(Planted("overstay", visit.pass_id))
        night = self.new_pass("pass-night", units[0])
        arrive, leave = self.at(0, 1.5, 1.5), self.at(0, 2.7, 2.7)
        self.act(arrive, Channel.QR, "in", night.pass_id, "granted")
        self.act(leave, Channel.QR, "out", night.pass_id, "granted")
        self.stay(f"p:{night.pass_id}", "visitor", arrive, leave)
        plant.append(Planted("night_entry", night.pass_id))
        again = self.new_pass("pass-again", units[-1])
        arrive, leave, retry = (
            self.at(0, 10.2, 10.2),
            self.at(0, 11.3, 11.3),
            self.at(0, 12.4, 12.4),
        )
        self.act(arrive, Channel.QR, "in", again.pass_id, "granted")
        self.act(leave, Channel.QR, "out", again.pass_id, "granted")
        self.act(retry, Channel.QR, "in", again.pass_id, "denied", fault="planted")
        self.stay(f"p:{again.pass_id}", "visitor", arrive, leave)
        plant.append(Planted("pass_misuse", again.pass_id))
        stranger = local(self.day, time(OFFLINE_HOUR, 20))
        for i in range(4):  # a card nobody registered, during the hour the edge is cut off
            self.act(
                stranger + timedelta(seconds=70 * i),
                Channel.CARD,
                "in",
                "8765432",
                "denied",
                fault="planted",
            )
        plant.append(Planted("repeated_denials", "8765432"))
        van = self.plate()
        for day in (-2, -1, 0):
            self.act(self.at(day, 10.2, 10.8), Channel.PLATE, "in", van, "denied", fault="planted")
        plant.append(Planted("returning_unknown", van))
        wanted = self.plate()
        self.plan.watchlist.append(wanted)
        self.act(self.at(0, 15.3, 15.4), Channel.PLATE, "in", wanted, "denied", fault="planted")
        plant.append(Planted("watchlist", wanted))

    def new_pass(self, pass_id: str, unit_id: str) -> Pass:
        visit = Pass(pass_id, unit_id, pass_id, None)
        self.plan.passes.append(visit)
        return visit

    # The truth.

    def count(self) -> None:
        for at in self.plan.hours():
            people = {"resident": 0, "visitor": 0, "staff": 0}
            vehicles = {"resident": 0, "other": 0}
            for key, kind, entered, left in self.stays:
                if entered <= at and (left is None or at < left):
                    if key.startswith("v:"):
                        vehicles[kind] += 1
                    else:
                        people[kind] += 1
            self.plan.truth.append(HourCount(at, people, vehicles))


def generate(size: Size = Size(), *, day: date, seed: int = 7) -> Plan:
    """The plan for `day` (local) and the two days before it, and the truth of `day`."""
    planner = _Planner(day, size, seed)
    planner.residents()
    planner.staff()
    planner.cars()
    planner.visitors()
    planner.planted()
    planner.count()
    planner.plan.actions.sort(key=lambda a: a.at)
    return planner.plan
