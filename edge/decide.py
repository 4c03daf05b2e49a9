"""The access decision. For now: a known, valid card or PIN of a known person opens the gate.

A pure function of the evidence, the cached registry and the time; it needs neither the hub
nor the broker. The decision issue replaces its body, not its shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.config import Fallback
from edge.registry import RegistryCache
from models.events import Decision, Outcome, Subject, SubjectKind


@dataclass(frozen=True)
class CardEvidence:
    number: str


@dataclass(frozen=True)
class Verdict:
    subject: Subject
    decision: Decision
    duress: bool = False

    @property
    def granted(self) -> bool:
        return self.decision.outcome is Outcome.GRANTED


def deny(code: str, reason: str, subject: Subject | None = None) -> Verdict:
    return Verdict(
        subject=subject or Subject(kind=SubjectKind.UNKNOWN),
        decision=Decision(outcome=Outcome.DENIED, reason_code=code, reason=reason),
    )


def decide_card(
    evidence: CardEvidence,
    registry: RegistryCache,
    now: datetime,
    fallback: Fallback = "allow",
) -> Verdict:
    """`fallback` is how cards decide while the registry is stale: `allow` trusts the cache."""
    if fallback == "deny":
        return deny("registry_stale", "The gate's registry is out of date; use another way in.")
    if fallback == "guard":
        return deny("ask_guard", "The gate's registry is out of date; please ask the guard.")
    card = registry.card(evidence.number)
    if card is None:
        return deny("card_unknown", "This card is not registered in the compound.")
    person = registry.person(card.person_id)
    if person is None:
        return deny("person_unknown", "The card's holder is no longer registered.")
    subject = Subject(kind=person.subject_kind, id=person.id)
    if not card.valid_at(now):
        return deny("card_expired", "The card is outside its validity period.", subject)
    return Verdict(
        subject=subject,
        decision=Decision(
            outcome=Outcome.GRANTED, reason_code="card_valid", reason="Registered card."
        ),
    )


@dataclass(frozen=True)
class PinEvidence:
    """A PIN as its keyed digest: the PIN itself is never kept or sent."""

    digest: str


def decide_pin(
    evidence: PinEvidence,
    registry: RegistryCache,
    now: datetime,
    fallback: Fallback = "allow",
) -> Verdict:
    """A PIN of a known person opens; `fallback` as for cards while the registry is stale."""
    if fallback == "deny":
        return deny("registry_stale", "The gate's registry is out of date; use another way in.")
    if fallback == "guard":
        return deny("ask_guard", "The gate's registry is out of date; please ask the guard.")
    pin = registry.pin(evidence.digest)
    if pin is None:
        return deny("pin_unknown", "This PIN is not registered in the compound.")
    person = registry.person(pin.person_id)
    if person is None:
        return deny("person_unknown", "The PIN's holder is no longer registered.")
    # A duress PIN opens like any other, with an ordinary-looking reason; the caller raises
    # the silent alarm.
    return Verdict(
        subject=Subject(kind=person.subject_kind, id=person.id),
        decision=Decision(
            outcome=Outcome.GRANTED, reason_code="pin_valid", reason="Registered PIN."
        ),
        duress=pin.duress,
    )
