"""The simulated day's plan: its truth follows from its own reads, its plates are plates, and
nothing is planned at the turn of an hour."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from firmware_mocks.scenario import CI_SIZE, Channel, Plan, Size, generate
from models import plates

DAY = date(2026, 11, 20)


def replayed_counts(plan: Plan, at: datetime) -> tuple[Counter[str], int]:
    """Who is inside at `at`, from the granted reads alone: an independent reading of the
    plan that must agree with the truth it states."""
    kinds = {p.person_id: p.kind for p in plan.people}
    cards = {str(p.card): p.person_id for p in plan.people}
    inside: dict[str, str] = {}
    for action in plan.actions:
        if action.at > at or action.expect != "granted":
            continue
        if action.channel is Channel.PLATE:
            key, kind = f"v:{action.credential}", "vehicle"
        elif action.channel is Channel.QR:
            key, kind = action.credential, "visitor"
        else:
            key = cards[action.credential]
            kind = kinds[key]
        if action.direction == "in":
            inside[key] = kind
        else:
            inside.pop(key, None)
    people = Counter(kind for kind in inside.values() if kind != "vehicle")
    return people, sum(kind == "vehicle" for kind in inside.values())


def test_the_truth_follows_from_the_reads() -> None:
    plan = generate(CI_SIZE, day=DAY)
    for hour in plan.truth:
        people, vehicles = replayed_counts(plan, hour.at)
        assert {k: people.get(k, 0) for k in hour.people} == hour.people, hour.at
        assert vehicles == sum(hour.vehicles.values()), hour.at
    assert max(h.people["visitor"] for h in plan.truth) > 0
    assert max(sum(h.vehicles.values()) for h in plan.truth) > 0


def test_every_plate_is_a_valid_plate_and_every_card_is_unique() -> None:
    plan = generate(Size(), day=DAY)
    numbers = {a.credential for a in plan.actions if a.channel is Channel.PLATE}
    assert all(plates.parse(n).number == n for n in numbers)
    cards = [p.card for p in plan.people]
    assert len(cards) == len(set(cards)) == Size().residents + Size().staff


def test_nothing_is_planned_near_a_full_hour_even_with_the_skew() -> None:
    plan = generate(Size(), day=DAY)
    for action in plan.actions:
        moment = action.at + timedelta(seconds=plan.skewed(action.at))
        minute = moment.minute + moment.second / 60
        assert 1 <= minute < 59 or action.expect == "denied", action


def test_the_plan_is_the_same_for_the_same_seed_and_holds_every_fault() -> None:
    first, second = generate(CI_SIZE, day=DAY, seed=3), generate(CI_SIZE, day=DAY, seed=3)
    assert first.actions == second.actions
    assert generate(CI_SIZE, day=DAY, seed=4).actions != first.actions
    faults = Counter(a.fault for a in generate(Size(), day=DAY).actions)
    assert faults["misread"] and faults["duplicate"] and faults["planted"]
    assert {p.rule for p in first.planted} == {
        "overstay",
        "night_entry",
        "pass_misuse",
        "repeated_denials",
        "returning_unknown",
        "watchlist",
    }
