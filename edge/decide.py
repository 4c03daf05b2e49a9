"""The access decision: one pure function from evidence and context to a verdict.

`decide(evidence, context)` needs neither the hub nor the broker: everything it reads is in the
context (the cached registry, the gate's rules, the time and whether it can be trusted, what
this edge has counted). It does no I/O; what must happen around it (counting a pass entry at
the hub, raising alerts, driving the relay) the verdict says and the caller does.

Card, PIN, QR, plate, face and the guard's command are all evidence of the same standing:
every gate accepts each of them, and face is never the only way in. The face and plate
pipelines build `FaceEvidence` and `PlateEvidence` and call `decide` like the readers do.

Rules, in order: the stale-registry fallback of the method; the credential (known, valid now);
its holder; the watchlist (deny, or let through and alert); the gate's schedule for the
holder's kind; anti-passback; the pass's entry count. A verdict's `flags` qualify it
(`clock_untrusted`, `registry_stale`, `passback`, `watchlist`, `plate_near`: a registered
plate matched with one character misread, where no other registered plate is that close)
without changing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.config import FaceMode, Fallback, PassbackMode
from edge.registry import RegistryCache
from edge.schedules import Window
from models.events import (
    Credential,
    Decision,
    Direction,
    Method,
    Outcome,
    Severity,
    Subject,
    SubjectKind,
)
from models.registry import PassRecord, PersonRecord
from models.tokens import ForgedToken, GateCommand, PassToken, TokenError, verify_token

# ---------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class CardEvidence:
    number: str


@dataclass(frozen=True)
class PinEvidence:
    """A PIN as its keyed digest: the PIN itself is never kept or sent."""

    digest: str


@dataclass(frozen=True)
class QrEvidence:
    token: str


@dataclass(frozen=True)
class PlateEvidence:
    """A plate as the plate pipeline (or an ANPR camera) read it, normalised. `tolerant`:
    a resident's plate may match with one character misread (not for a camera's own
    reading, which arrives as final)."""

    number: str
    confidence: float | None = None
    tolerant: bool = True


@dataclass(frozen=True)
class FaceEvidence:
    """An identification by the face pipeline: who, how close, how far ahead of the
    second-best identity, whether the face was seen to be live, and the identifying frame's
    quality (the face's sharpness, see `edge.faces.pipeline`)."""

    person_id: str
    distance: float
    margin: float
    live: bool
    quality: float | None = None
    engine: str = "dlib"
    # 1:1, for a second factor: whether this face is that person's (the lane's gallery
    # answers; the template stays in the lane, never in an event).
    same_person: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)
    re_enrol: bool = False  # named by an older engine: the person must enrol again


@dataclass(frozen=True)
class RemoteEvidence:
    """A guard's command, its signature and freshness already checked by the caller."""

    command: GateCommand


Evidence = CardEvidence | PinEvidence | QrEvidence | PlateEvidence | FaceEvidence | RemoteEvidence

# ---------------------------------------------------------------------------------- context


class History(Protocol):
    """What this edge has counted: entries per pass, and where each subject last went."""

    def pass_entries(self, pass_id: str) -> int: ...

    def last_direction(self, subject_id: str) -> Direction | None: ...


class NoHistory:
    def pass_entries(self, pass_id: str) -> int:
        return 0

    def last_direction(self, subject_id: str) -> Direction | None:
        return None


@dataclass(frozen=True)
class GateRules:
    gate_id: str
    direction: Direction
    anti_passback: PassbackMode = "off"
    face: FaceMode = "risk_gate"
    schedules: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))


@dataclass(frozen=True)
class Context:
    registry: RegistryCache
    rules: GateRules
    now: datetime
    clock_trusted: bool = True
    fallbacks: Mapping[str, Fallback] | None = None
    """Per method, while the registry is stale; None while it is fresh."""
    history: History = field(default_factory=NoHistory)
    issuer_key: Ed25519PublicKey | None = None


# ---------------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Alert:
    code: str
    severity: Severity
    text: str


@dataclass(frozen=True)
class PassEntry:
    """An entry the caller must count against the pass: at the hub when it answers (the
    limit then holds across gates), else on this edge alone (flagged `offline_limit`)."""

    pass_id: str
    max_entries: int


@dataclass(frozen=True)
class Verdict:
    subject: Subject
    credential: Credential
    decision: Decision
    duress: bool = False
    alerts: tuple[Alert, ...] = ()
    claim: PassEntry | None = None

    @property
    def granted(self) -> bool:
        return self.decision.outcome is Outcome.GRANTED


@dataclass
class _Draft:
    """A decision being made: what is known so far, and the flags gathered on the way."""

    credential: Credential
    subject: Subject = field(default_factory=lambda: Subject(kind=SubjectKind.UNKNOWN))
    flags: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)

    def deny(self, code: str, reason: str) -> Verdict:
        return self._verdict(Outcome.DENIED, code, reason)

    def grant(
        self, code: str, reason: str, *, duress: bool = False, claim: PassEntry | None = None
    ) -> Verdict:
        return self._verdict(Outcome.GRANTED, code, reason, duress=duress, claim=claim)

    def _verdict(
        self,
        outcome: Outcome,
        code: str,
        reason: str,
        *,
        duress: bool = False,
        claim: PassEntry | None = None,
    ) -> Verdict:
        decision = Decision(
            outcome=outcome, reason_code=code, reason=reason, flags=tuple(self.flags)
        )
        return Verdict(
            subject=self.subject,
            credential=self.credential,
            decision=decision,
            duress=duress,
            alerts=tuple(self.alerts),
            claim=claim,
        )


# ---------------------------------------------------------------------------------- decide


def decide(evidence: Evidence, context: Context) -> Verdict:
    """Grant or deny, with a reason code and a sentence a person can read."""
    match evidence:
        case CardEvidence():
            return _card(evidence, context)
        case PinEvidence():
            return _pin(evidence, context)
        case QrEvidence():
            return _qr(evidence, context)
        case PlateEvidence():
            return _plate(evidence, context)
        case FaceEvidence():
            return _face(evidence, context)
        case RemoteEvidence():
            return _remote(evidence, context)


def _stale(draft: _Draft, method: Method, context: Context) -> Verdict | None:
    """The verdict a stale registry imposes on `method`, if its fallback is not to trust the
    cache (or, for QR, the pass's own signed window)."""
    if context.fallbacks is None:
        return None
    fallback = context.fallbacks.get(method.value, "allow")
    if fallback == "deny":
        reason = "The gate's registry is out of date; use another way in."
        return draft.deny("registry_stale", reason)
    if fallback == "guard":
        return draft.deny("ask_guard", "The gate's registry is out of date; please ask the guard.")
    draft.flag("registry_stale")
    return None


def _timed(draft: _Draft, context: Context) -> datetime:
    """The time, for a rule that depends on it; flags the decision if the clock is in doubt."""
    if not context.clock_trusted:
        draft.flag("clock_untrusted")
    return context.now


def _card(evidence: CardEvidence, context: Context) -> Verdict:
    draft = _Draft(Credential(method=Method.CARD, reference=evidence.number))
    if (stale := _stale(draft, Method.CARD, context)) is not None:
        return stale
    card = context.registry.card(evidence.number)
    if card is None:
        return draft.deny("card_unknown", "This card is not registered in the compound.")
    person = _holder(draft, context, card.person_id)
    if person is None:
        return draft.deny("person_unknown", "The card's holder is no longer registered.")
    if not card.valid_at(_timed(draft, context)):
        return draft.deny("card_expired", "The card is outside its validity period.")
    return _admit(draft, context, person, "card_valid", "Registered card.")


def _pin(evidence: PinEvidence, context: Context) -> Verdict:
    draft = _Draft(Credential(method=Method.PIN))
    if (stale := _stale(draft, Method.PIN, context)) is not None:
        return stale
    pin = context.registry.pin(evidence.digest)
    if pin is None:
        return draft.deny("pin_unknown", "This PIN is not registered in the compound.")
    person = _holder(draft, context, pin.person_id)
    if person is None:
        return draft.deny("person_unknown", "The PIN's holder is no longer registered.")
    # A duress PIN opens like any other, with an ordinary-looking reason and no flag; the
    # caller raises the silent alarm. Rules still apply: a duress PIN must not stand out.
    verdict = _admit(draft, context, person, "pin_valid", "Registered PIN.")
    if verdict.granted and pin.duress:
        return replace(verdict, duress=True)
    return verdict


def _face(evidence: FaceEvidence, context: Context) -> Verdict:
    credential = Credential(
        method=Method.FACE,
        reference=evidence.person_id,
        score=round(evidence.distance, 4),
        margin=round(evidence.margin, 4) if math.isfinite(evidence.margin) else None,
        live=evidence.live,
        quality=None if evidence.quality is None else round(evidence.quality, 1),
    )
    draft = _Draft(credential)
    if (stale := _stale(draft, Method.FACE, context)) is not None:
        return stale
    if not evidence.live:
        return draft.deny("face_not_live", "The face did not look live; use a card, PIN or QR.")
    person = _holder(draft, context, evidence.person_id)
    if person is None:
        return draft.deny("person_unknown", "This face's person is no longer registered.")
    if evidence.re_enrol:
        reason = (
            "Face recognised by the old model: please re-enrol at the property office; "
            "to open now, use your card, PIN or QR code."
        )
        return draft.deny("face_re_enrol", reason)
    if not _face_alone(evidence, context):
        reason = "Face recognised; to open, also use your card, PIN or QR code."
        return draft.deny("face_second_factor", reason)
    return _admit(draft, context, person, "face_match", "Recognised face.")


def _face_alone(evidence: FaceEvidence, context: Context) -> bool:
    """Whether this gate opens on this face alone: not where it always asks for a second
    factor, and only as far as the hub's risk gate for the engine's gallery allows."""
    if context.rules.face == "second_factor":
        return False
    policy = context.registry.face_policy(evidence.engine)
    return policy is not None and policy.face_alone(evidence.person_id)


def _plate(evidence: PlateEvidence, context: Context) -> Verdict:
    draft = _Draft(
        Credential(method=Method.PLATE, reference=evidence.number, score=evidence.confidence)
    )
    # The watchlist comes first: a flagged plate is flagged whoever it is registered to.
    if (watched := _watch(draft, context, "plate", evidence.number)) is not None:
        return watched
    if (stale := _stale(draft, Method.PLATE, context)) is not None:
        return stale
    plate = context.registry.plate(evidence.number)
    if plate is not None and plate.person_id is not None:
        return _resident_vehicle(draft, context, plate.person_id)
    now = _timed(draft, context)
    passes = [p for p in context.registry.passes_for_plate(evidence.number) if _open(p, now)]
    if passes:
        return _visitor(draft, context, passes[0], "plate_pass", "Visitor vehicle with a pass.")
    near = context.registry.plate_near(evidence.number) if evidence.tolerant else None
    if near is not None and near.person_id is not None:
        draft.flag("plate_near")
        return _resident_vehicle(draft, context, near.person_id)
    return draft.deny("plate_unknown", "This vehicle is not registered; please see the guard.")


def _resident_vehicle(draft: _Draft, context: Context, person_id: str) -> Verdict:
    person = _holder(draft, context, person_id)
    if person is None:
        return draft.deny("person_unknown", "The vehicle's owner is no longer registered.")
    return _admit(draft, context, person, "plate_registered", "Registered vehicle.")


def _qr(evidence: QrEvidence, context: Context) -> Verdict:
    draft = _Draft(Credential(method=Method.QR))
    token = _read_token(draft, context, evidence.token)
    if isinstance(token, Verdict):
        return token
    draft.credential = Credential(method=Method.QR, reference=token.pass_id)
    draft.subject = Subject(kind=SubjectKind.VISITOR, id=token.pass_id)
    if token.compound_id != context.registry.compound_id:
        return draft.deny("qr_foreign", "This pass is for another compound.")
    if (stale := _stale(draft, Method.QR, context)) is not None:
        return stale
    now = _timed(draft, context)
    if not token.window_contains(now):
        when = "not valid yet" if now < token.valid_from else "expired"
        return draft.deny(f"pass_{when.replace(' ', '_')}", f"This pass is {when}.")
    record = context.registry.visitor_pass(token.pass_id)
    if record is None and (revoked := _revoked(draft, context, token)) is not None:
        return revoked
    pass_ = record or _as_record(token)
    return _visitor(draft, context, pass_, "pass_valid", "Visitor pass.")


def _read_token(draft: _Draft, context: Context, text: str) -> PassToken | Verdict:
    if context.issuer_key is None:
        return draft.deny("qr_unavailable", "This gate cannot check QR codes; ask the guard.")
    try:
        return verify_token(text, PassToken, context.issuer_key)
    except ForgedToken as exc:
        draft.alerts.append(Alert("qr_forged", Severity.WARNING, f"Forged QR code: {exc}."))
        return draft.deny("qr_forged", "This QR code was not issued by the compound.")
    except TokenError:
        return draft.deny("qr_invalid", "This is not a visitor-pass QR code.")


def _revoked(draft: _Draft, context: Context, token: PassToken) -> Verdict | None:
    """A valid token whose pass is not in the registry: revoked, unless the registry predates
    the pass (not here yet) or is stale (the signed window stands, per the QR fallback)."""
    if token.registry_version > context.registry.version:
        return None
    if context.fallbacks is not None:
        return None
    return draft.deny("pass_revoked", "This pass has been cancelled.")


def _remote(evidence: RemoteEvidence, context: Context) -> Verdict:
    command = evidence.command
    draft = _Draft(Credential(method=Method.REMOTE, reference=str(command.command_id)))
    if command.subject_id is not None:
        person = context.registry.person(command.subject_id)
        kind = person.subject_kind if person is not None else SubjectKind.UNKNOWN
        draft.subject = Subject(kind=kind, id=command.subject_id)
    elif command.pass_id is not None:
        draft.subject = Subject(kind=SubjectKind.VISITOR, id=command.pass_id)
    said = f"{command.issued_by}: {command.reason}"
    if command.action == "open":
        return draft.grant("guard_open", f"Opened by the guard ({said}).")
    return draft.deny("guard_deny", f"Refused by the guard ({said}).")


# ---------------------------------------------------------------------------------- rules


def _holder(draft: _Draft, context: Context, person_id: str) -> PersonRecord | None:
    person = context.registry.person(person_id)
    if person is not None:
        draft.subject = Subject(kind=person.subject_kind, id=person.id)
    return person


def _admit(
    draft: _Draft, context: Context, person: PersonRecord, code: str, reason: str
) -> Verdict:
    """The rules every identified person passes through, whatever the credential."""
    if (watched := _watch(draft, context, "person", person.id)) is not None:
        return watched
    if (closed := _schedule(draft, context, person.subject_kind)) is not None:
        return closed
    if (passback := _passback(draft, context, person.id)) is not None:
        return passback
    return draft.grant(code, reason)


def _visitor(draft: _Draft, context: Context, pass_: PassRecord, code: str, reason: str) -> Verdict:
    draft.subject = Subject(kind=SubjectKind.VISITOR, id=pass_.id)
    if (closed := _schedule(draft, context, SubjectKind.VISITOR)) is not None:
        return closed
    if (passback := _passback(draft, context, pass_.id)) is not None:
        return passback
    if context.rules.direction is Direction.OUT:
        return draft.grant(code, reason)  # leaving does not use up an entry
    used = context.history.pass_entries(pass_.id)
    if used >= pass_.max_entries:
        reason = f"This pass has no entries left ({pass_.max_entries} allowed)."
        return draft.deny("pass_used_up", reason)
    return draft.grant(code, reason, claim=PassEntry(pass_.id, pass_.max_entries))


def _watch(
    draft: _Draft, context: Context, target: Literal["plate", "person"], value: str
) -> Verdict | None:
    entry = context.registry.watched(target, value)
    if entry is None:
        return None
    what = f"{target} {value}"
    text = f"Watchlist hit ({entry.id}): {what} at gate {context.rules.gate_id}."
    draft.alerts.append(Alert("watchlist_hit", Severity.CRITICAL, text))
    if entry.action == "deny":
        return draft.deny("watchlist", "Entry refused; please see the guard.")
    draft.flag("watchlist")
    return None


def _schedule(draft: _Draft, context: Context, kind: SubjectKind) -> Verdict | None:
    windows = context.rules.schedules.get(kind.value)
    if windows is None:
        return None
    local = _timed(draft, context).astimezone(context.rules.timezone)
    if any(window.contains(local) for window in windows):
        return None
    return draft.deny("outside_schedule", f"Not within the hours for {kind.value} at this gate.")


def _passback(draft: _Draft, context: Context, subject_id: str) -> Verdict | None:
    """Anti-passback: the same way twice in a row (in, in) means a card was passed back."""
    mode = context.rules.anti_passback
    if mode == "off":
        return None
    if context.history.last_direction(subject_id) is not context.rules.direction:
        return None
    if mode == "hard":
        way = "entered" if context.rules.direction is Direction.IN else "left"
        return draft.deny("passback", f"Already {way} without leaving or entering since.")
    draft.flag("passback")
    return None


def _open(pass_: PassRecord, now: datetime) -> bool:
    return pass_.valid_from <= now < pass_.valid_until


def _as_record(token: PassToken) -> PassRecord:
    return PassRecord(
        id=token.pass_id,
        unit_id="unknown",
        valid_from=token.valid_from,
        valid_until=token.valid_until,
        max_entries=token.max_entries,
        plate=token.plate,
    )
