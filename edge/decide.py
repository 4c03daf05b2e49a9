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


def _stale(fallback: Fallback) -> Verdict | None:
    """The verdict a stale registry imposes, if its fallback is not to trust the cache."""
    if fallback == "deny":
        return deny("registry_stale", "The gate's registry is out of date; use another way in.")
    if fallback == "guard":
        return deny("ask_guard", "The gate's registry is out of date; please ask the guard.")
    return None


def _holder(registry: RegistryCache, person_id: str, credential: str) -> Subject | Verdict:
    """The credential's holder, or the denial when they are no longer registered."""
    person = registry.person(person_id)
    if person is None:
        return deny("person_unknown", f"The {credential}'s holder is no longer registered.")
    return Subject(kind=person.subject_kind, id=person.id)


def _grant(subject: Subject, code: str, reason: str, *, duress: bool = False) -> Verdict:
    decision = Decision(outcome=Outcome.GRANTED, reason_code=code, reason=reason)
    return Verdict(subject=subject, decision=decision, duress=duress)


def decide_card(
    evidence: CardEvidence,
    registry: RegistryCache,
    now: datetime,
    fallback: Fallback = "allow",
) -> Verdict:
    """`fallback` is how cards decide while the registry is stale: `allow` trusts the cache."""
    if (stale := _stale(fallback)) is not None:
        return stale
    card = registry.card(evidence.number)
    if card is None:
        return deny("card_unknown", "This card is not registered in the compound.")
    holder = _holder(registry, card.person_id, "card")
    if isinstance(holder, Verdict):
        return holder
    if not card.valid_at(now):
        return deny("card_expired", "The card is outside its validity period.", holder)
    return _grant(holder, "card_valid", "Registered card.")


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
    if (stale := _stale(fallback)) is not None:
        return stale
    pin = registry.pin(evidence.digest)
    if pin is None:
        return deny("pin_unknown", "This PIN is not registered in the compound.")
    holder = _holder(registry, pin.person_id, "PIN")
    if isinstance(holder, Verdict):
        return holder
    # A duress PIN opens like any other, with an ordinary-looking reason; the caller raises
    # the silent alarm.
    return _grant(holder, "pin_valid", "Registered PIN.", duress=pin.duress)
