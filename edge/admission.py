"""From a credential at a lane to an open gate: decide, count, record, actuate.

`Admission.admit(lane, evidence)` is what every credential source calls (the Wiegand readers
for cards, PINs and QR codes; the face and plate pipelines; the guard's commands). It builds
the decision's context, calls the pure `decide`, counts a pass entry at the hub (or on this
edge when the hub does not answer), raises the verdict's alerts, commits the entry event to
the outbox, and only then drives the relay: an event is never lost to a crash after opening.
The gate follows the decision even when the event cannot be recorded (a full disk).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.claims import HubClaims
from edge.clock import EdgeClock
from edge.config import Fallback, GateSection
from edge.decide import (
    CardEvidence,
    Context,
    Evidence,
    FaceEvidence,
    GateRules,
    PinEvidence,
    Verdict,
    decide,
)
from edge.delivery import Delivery
from edge.errors import OutboxError, OutboxFull
from edge.evidence import EvidenceStore
from edge.gate import GateController
from edge.images import ImageError
from edge.ledger import Ledger, Passage
from edge.registry import RegistryCache
from edge.schedules import Window
from models.events import (
    AlarmEvent,
    Credential,
    Decision,
    Direction,
    EntryEvent,
    Method,
    Outcome,
    Position,
    Severity,
    Subject,
    SubjectKind,
)
from models.evidence import SNAPSHOT_FLAG


@dataclass(frozen=True)
class Lane:
    gate_id: str
    lane: str
    direction: Direction


@dataclass(frozen=True)
class Admitted:
    verdict: Verdict
    opened: bool  # the relay took the command (False for a denial)


logger = logging.getLogger(__name__)
SECOND_FACTOR_S = 30.0  # a face sent to a second factor waits this long for it
SECOND_FACTOR_CODES = frozenset({"face_second_factor", "face_re_enrol"})
FallbackOf = Callable[[], Mapping[str, Fallback] | None]


class Admission:
    def __init__(
        self,
        *,
        compound_id: str,
        registry: Callable[[], RegistryCache],
        ledger: Ledger,
        clock: EdgeClock,
        gates: Mapping[str, GateSection],
        timezone: ZoneInfo,
        fallbacks: FallbackOf,
        issuer_key: Ed25519PublicKey | None = None,
        claims: HubClaims | None = None,
    ) -> None:
        self._compound_id = compound_id
        self._registry = registry
        self._ledger = ledger
        self._clock = clock
        self._sections = gates
        self._timezone = timezone
        self._fallbacks = fallbacks
        self._issuer_key = issuer_key
        self._claims = claims
        self._schedules = {g.id: _schedules(g) for g in gates.values()}
        self.controllers: dict[str, GateController] = {}
        self.delivery: Delivery | None = None
        self.evidence: EvidenceStore | None = None  # decision snapshots, when kept
        self.on_decision: Callable[[str, str], None] | None = None  # method, outcome
        # The lane's screen: the verdict, and whether the gate opened for it.
        self.on_verdict: Callable[[Lane, Verdict, bool], None] | None = None
        self._closed = False
        self._lock = threading.Lock()  # one admission at a time: counts stay exact
        self._faces_waiting: dict[Lane, tuple[FaceEvidence, datetime]] = {}

    def close(self) -> None:
        """From now on every read is refused, unrecorded: the edge is shutting down."""
        with self._lock:
            self._closed = True

    def admit(
        self, lane: Lane, evidence: Evidence, snapshot: Callable[[], bytes] | None = None
    ) -> Admitted:
        """`snapshot` makes the decision's picture (a vehicle lane's), kept when this edge
        keeps them (`edge.evidence`). It is made before the lock, so that no other lane waits
        for an image, and before the decision, whose event says whether there is one; it is
        written to disk after the gate has answered, so that no gate waits for the disk. Its
        failure never touches the decision."""
        event_id = uuid.uuid4()
        picture = self._picture(snapshot)
        with self._lock:
            if self._closed:
                return Admitted(_refusal("edge_stopping", "The gate is restarting."), False)
            admitted = self._admit(lane, evidence, event_id, picture is not None)
        if picture is not None and self.evidence is not None:
            self.evidence.keep(event_id, picture)
        return admitted

    def _admit(
        self, lane: Lane, evidence: Evidence, event_id: uuid.UUID, pictured: bool
    ) -> Admitted:
        reading = self._clock.read()
        context = self._context(lane, reading.now, reading.trusted)
        verdict = self._passback_everywhere(evidence, context, decide(evidence, context))
        verdict = self._second_factor(lane, evidence, verdict, reading.now)
        verdict = self._count(verdict, event_id)
        if pictured:
            verdict = _flagged(verdict, SNAPSHOT_FLAG)
        for alert in verdict.alerts:
            self.alarm(lane.gate_id, alert.code, alert.severity, alert.text)
        if verdict.duress:
            text = f"Duress PIN of {verdict.subject.id} at {lane.gate_id}/{lane.lane}."
            self.alarm(lane.gate_id, "duress", Severity.CRITICAL, text)
        self._record(lane, reading.now, verdict, event_id)
        if not verdict.granted:
            self._show(lane, verdict, opened=False)
            return Admitted(verdict, opened=False)
        if verdict.subject.id is not None:
            subject_id = verdict.subject.id
            self._ledger_write(
                lambda: self._ledger.record_passage(
                    subject_id, lane.direction, lane.gate_id, reading.now
                )
            )
        opened = self._open(lane.gate_id)
        self._show(lane, verdict, opened)
        return Admitted(verdict, opened)

    def _second_factor(
        self, lane: Lane, evidence: Evidence, verdict: Verdict, now: datetime
    ) -> Verdict:
        """A face sent to a second factor waits at its lane (the camera's and the reader's
        `lane` name one); the card or PIN that comes next there within `SECOND_FACTOR_S` (a
        resident's own credentials: not a visitor's QR pass, a plate or a guard's command)
        is checked against it, 1:1. The credential
        decides as it always does (a card alone opens any gate); its entry says whether the
        face seen was its holder's (`face_confirmed`), or not (`face_mismatch`, with an alarm
        for the guard: another person's card in hand)."""
        self._faces_waiting = {
            at: waiting
            for at, waiting in self._faces_waiting.items()
            if abs((now - waiting[1]).total_seconds()) <= SECOND_FACTOR_S
        }
        if isinstance(evidence, FaceEvidence):
            if verdict.decision.reason_code in SECOND_FACTOR_CODES:
                self._faces_waiting[lane] = (evidence, now)
            return verdict
        holder = verdict.subject.id
        if not isinstance(evidence, CardEvidence | PinEvidence) or holder is None:
            return verdict
        waiting = self._faces_waiting.pop(lane, None)
        same_person = None if waiting is None else waiting[0].same_person
        if same_person is None or not verdict.granted:
            return verdict
        if same_person(holder):
            return _flagged(verdict, "face_confirmed")
        text = f"The face at {lane.gate_id}/{lane.lane} is not the holder of {holder}'s credential."
        self.alarm(lane.gate_id, "face_mismatch", Severity.WARNING, text)
        return _flagged(verdict, "face_mismatch")

    def _picture(self, snapshot: Callable[[], bytes] | None) -> bytes | None:
        if snapshot is None or self.evidence is None or not self.evidence.enabled:
            return None
        try:
            return snapshot()
        except ImageError as exc:
            logger.info("no decision snapshot: %s", exc)
        except Exception:  # an image library's failure must never cost the decision
            logger.exception("decision snapshot not made")
        return None

    def _show(self, lane: Lane, verdict: Verdict, opened: bool) -> None:
        """Tell the lane's screen, once the event is recorded and the gate has answered; a
        screen's trouble never reaches the decision."""
        if self.on_verdict is None:
            return
        try:
            self.on_verdict(lane, verdict, opened)
        except Exception:
            logger.exception("gate %s: the lane's screen could not be told", lane.gate_id)

    def unknown_face(self, lane: Lane, pseudonym: str) -> None:
        """A face nobody enrolled: a denial under its pseudonym, so the guard sees it waiting
        and repeat visits can be counted, without anyone knowing who it is."""
        reason = "Face not recognised; use a card, PIN or QR code, or see the guard."
        decision = Decision(outcome=Outcome.DENIED, reason_code="face_unknown", reason=reason)
        subject = Subject(kind=SubjectKind.UNKNOWN, id=pseudonym)
        self._denied(lane, Verdict(subject, Credential(method=Method.FACE), decision))

    def unusable_face(self, lane: Lane, why: str) -> None:
        """A face at the lane for a while with no picture good enough to check (`why`: too
        far, blurred): a denial with nobody named, so the guard sees someone waiting (at
        night, in the rain) and the screen points to the other ways in."""
        reason = (
            f"No clear picture of the face ({why}): use a card, PIN or QR code, or see the guard."
        )
        self.refuse(lane, Method.FACE, "face_unusable", reason)

    def refuse(self, lane: Lane, method: Method, code: str, reason: str) -> None:
        """Record a denial made before any decision (a locked keypad, a missing key)."""
        self._denied(lane, _refusal(code, reason, method))

    def _denied(self, lane: Lane, verdict: Verdict) -> None:
        """A denial with no decision behind it, recorded and shown (not once the edge is
        stopping, as no decision is then)."""
        with self._lock:
            if not self._closed:
                self._record(lane, self._clock.read().now, verdict, uuid.uuid4())
                self._show(lane, verdict, opened=False)

    def alarm(self, gate_id: str | None, code: str, severity: Severity, text: str) -> None:
        """Commit an alarm event; an alarm that cannot be recorded is logged, never raised."""
        logger.warning("alarm %s at gate %s: %s", code, gate_id, text)
        if self.delivery is None:
            return
        occurred = self._clock.read().now

        def alarm(position: Position) -> AlarmEvent:
            return AlarmEvent(
                event_id=uuid.uuid4(),
                position=position,
                compound_id=self._compound_id,
                gate_id=gate_id,
                occurred_at=occurred,
                code=code,
                severity=severity,
                text=text,
            )

        try:
            self.delivery.emit(alarm)
        except OutboxError:
            logger.exception("alarm %s could not be recorded", code)

    def _context(self, lane: Lane, now: datetime, trusted: bool) -> Context:
        section = self._sections.get(lane.gate_id)
        rules = GateRules(
            gate_id=lane.gate_id,
            direction=lane.direction,
            anti_passback=section.anti_passback if section is not None else "off",
            face=section.face if section is not None else "risk_gate",
            schedules=self._schedules.get(lane.gate_id, {}),
            timezone=self._timezone,
        )
        return Context(
            registry=self._registry(),
            rules=rules,
            now=now,
            clock_trusted=trusted,
            fallbacks=self._fallbacks(),
            history=self._ledger,
            issuer_key=self._issuer_key,
        )

    def _passback_everywhere(
        self, evidence: Evidence, context: Context, verdict: Verdict
    ) -> Verdict:
        """Anti-passback across every gate: decide again with the hub's view of where the
        person last passed when it differs from this edge's; flagged when the hub is out."""
        subject_id = verdict.subject.id
        if context.rules.anti_passback == "off" or subject_id is None or self._claims is None:
            return verdict
        presence = self._claims.presence(subject_id)
        if presence is None:
            return _flagged(verdict, "offline_passback")
        merged = _Merged(self._ledger, subject_id, presence.last)
        if merged.last_direction(subject_id) is self._ledger.last_direction(subject_id):
            return verdict
        return decide(evidence, replace(context, history=merged))

    def _count(self, verdict: Verdict, event_id: uuid.UUID) -> Verdict:
        """Take a granted pass entry: at the hub while it answers (the event id makes the
        count idempotent), else from this edge's own count, flagged `offline_limit`."""
        claim = verdict.claim
        if claim is None:
            return verdict
        counted = None
        if self._claims is not None:
            counted = self._claims.count_entry(claim.pass_id, event_id)
        if counted is None:
            taken = self._ledger_write(
                lambda: self._ledger.take_entry(claim.pass_id, claim.max_entries)
            )
            if taken is False:  # None: the ledger failed, and the decision stands
                return _used_up(verdict, f"({claim.max_entries} allowed)")
            return _flagged(verdict, "offline_limit")
        self._ledger_write(lambda: self._ledger.note_entries(claim.pass_id, counted.entries))
        if counted.granted:
            return verdict
        return _used_up(verdict, f"({claim.max_entries} allowed, all gates)")

    def _ledger_write(self, write: Callable[[], object]) -> object:
        """A ledger write that fails (a full disk) is alarmed; the gate goes on deciding."""
        try:
            return write()
        except sqlite3.Error as exc:
            logger.exception("ledger write failed")
            self.alarm(None, "ledger_error", Severity.CRITICAL, f"Ledger write failed: {exc}")
            return None

    def _record(self, lane: Lane, now: datetime, verdict: Verdict, event_id: uuid.UUID) -> None:
        decision = verdict.decision
        logger.info(
            "gate %s %s: %s %s",
            lane.gate_id,
            decision.outcome.value,
            verdict.credential.method.value,
            decision.reason_code,
        )
        if self.delivery is None:
            raise RuntimeError("a decision before the daemon started")
        if self.on_decision is not None:
            self.on_decision(verdict.credential.method.value, decision.outcome.value)

        def entry(position: Position) -> EntryEvent:
            return EntryEvent(
                event_id=event_id,
                position=position,
                compound_id=self._compound_id,
                gate_id=lane.gate_id,
                lane=lane.lane,
                direction=lane.direction,
                occurred_at=now,
                subject=verdict.subject,
                credential=verdict.credential,
                decision=decision,
            )

        try:
            self.delivery.emit(entry)
        except OutboxFull as exc:
            logger.error("gate %s: event not recorded: %s", lane.gate_id, exc)
        except OutboxError:
            logger.exception("gate %s: event could not be recorded", lane.gate_id)

    def _open(self, gate_id: str) -> bool:
        controller = self.controllers.get(gate_id)
        return True if controller is None else controller.grant()


def _refusal(code: str, reason: str, method: Method = Method.REMOTE) -> Verdict:
    decision = Decision(outcome=Outcome.DENIED, reason_code=code, reason=reason)
    subject = Subject(kind=SubjectKind.UNKNOWN)
    return Verdict(subject=subject, credential=Credential(method=method), decision=decision)


def _used_up(verdict: Verdict, allowed: str) -> Verdict:
    used = Decision(
        outcome=Outcome.DENIED,
        reason_code="pass_used_up",
        reason=f"This pass has no entries left {allowed}.",
        flags=verdict.decision.flags,
    )
    return replace(verdict, decision=used, claim=None)


def _flagged(verdict: Verdict, flag: str) -> Verdict:
    decision = verdict.decision
    if flag in decision.flags:
        return verdict
    flags = (*decision.flags, flag)
    return replace(verdict, decision=decision.model_copy(update={"flags": flags}))


@dataclass(frozen=True)
class _Merged:
    """This edge's counts, with the most recent passage of one person from either side."""

    ledger: Ledger
    subject_id: str
    hub_last: Passage | None

    def pass_entries(self, pass_id: str) -> int:
        return self.ledger.pass_entries(pass_id)

    def last_direction(self, subject_id: str) -> Direction | None:
        local = self.ledger.last_passage(subject_id)
        if subject_id != self.subject_id or self.hub_last is None:
            return None if local is None else local.direction
        if local is None or self.hub_last.at > local.at:
            return self.hub_last.direction
        return local.direction


def _schedules(section: GateSection) -> dict[str, tuple[Window, ...]]:
    return {
        kind: tuple(Window.parse(text) for text in windows)
        for kind, windows in section.schedules.items()
    }
