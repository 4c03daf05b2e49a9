"""From a credential at a lane to an open gate: decide, count, record, actuate.

`Admission.admit(lane, evidence)` is what every credential source calls (the Wiegand readers
for cards, PINs and QR codes; the face and plate pipelines; the guard's commands). It builds
the decision's context, calls the pure `decide`, counts a pass entry at the hub (or on this
edge when the hub does not answer), raises the verdict's alerts, commits the entry event to
the outbox, and only then drives the relay: an event is never lost to a crash after opening.
The gate follows the decision even when the event cannot be recorded (a full disk).

Lanes admit at the same time. No lock is held across a call to the hub or a relay command,
so a slow hub or relay delays only the lane that waits for it. Counts stay exact all the
same: a pass entry is taken atomically (by the hub, or by this edge's ledger), and the
anti-passback decision and the passage it records happen under a lock of that person alone
(`KeyedLocks`), with the hub's view of where they last passed asked for before it is taken.
A grant whose pass entry is then refused gives its recorded passage back.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.alarms import Alarms
from edge.claims import HubClaims, HubPresence
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
from edge.keyed_locks import KeyedLocks
from edge.ledger import Ledger, Passage
from edge.registry import RegistryCache
from edge.schedules import Window
from models.events import (
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
DecisionSink = Callable[[str, str], None]  # method, outcome
VerdictSink = Callable[["Lane", Verdict, bool], None]  # the lane's screen: verdict, opened
CLOSE_WAIT_S = 10.0  # how long `close` waits for admissions under way


def nobody(*_: object) -> None:
    """Where nobody listens (no metrics, no screens)."""


@dataclass(frozen=True)
class _HubView:
    """The hub's answer on where a person last passed (asked before any lock is taken);
    `presence` None: the hub did not answer."""

    presence: HubPresence | None


@dataclass(frozen=True)
class _Taken:
    """A granted person's passage, recorded; given back if the grant does not stand."""

    subject_id: str
    passage: Passage
    previous: Passage | None


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
        delivery: Delivery,
        alarms: Alarms,
        controllers: Mapping[str, GateController],
        evidence: EvidenceStore,
        issuer_key: Ed25519PublicKey | None = None,
        claims: HubClaims | None = None,
        on_decision: DecisionSink = nobody,
        on_verdict: VerdictSink = nobody,
    ) -> None:
        self._compound_id = compound_id
        self._registry = registry
        self._ledger = ledger
        self._clock = clock
        self._sections = gates
        self._timezone = timezone
        self._fallbacks = fallbacks
        self._delivery = delivery
        self._alarms = alarms
        self._controllers = controllers
        self._evidence = evidence  # decision snapshots, when kept
        self._issuer_key = issuer_key
        self._claims = claims
        self._on_decision = on_decision
        self._on_verdict = on_verdict
        self._schedules = {g.id: _schedules(g) for g in gates.values()}
        self._people = KeyedLocks()  # one person's decision and passage at a time
        self._state = threading.Condition()  # guards `_closed`, `_busy`, `_faces_waiting`
        self._closed = False
        self._busy = 0  # admissions under way
        self._faces_waiting: dict[Lane, tuple[FaceEvidence, datetime]] = {}
        # Passages given back, by person: a later grant's giving back must not restore one.
        self._withdrawn: dict[str, set[Passage]] = {}

    def close(self) -> None:
        """From now on every read is refused, unrecorded: the edge is shutting down. Returns
        once the admissions under way have finished (or after `CLOSE_WAIT_S`)."""
        with self._state:
            self._closed = True
            if not self._state.wait_for(lambda: self._busy == 0, CLOSE_WAIT_S):
                logger.warning("closing with %d admissions still under way", self._busy)

    def admit(
        self, lane: Lane, evidence: Evidence, snapshot: Callable[[], bytes] | None = None
    ) -> Admitted:
        """`snapshot` makes the decision's picture (a vehicle lane's), kept when this edge
        keeps them (`edge.evidence`). It is made first, so that no decision waits for an
        image (the decision's event says whether there is one), and written to disk after the
        gate has answered, so that no gate waits for the disk. Its failure never touches the
        decision."""
        event_id = uuid.uuid4()
        picture = self._picture(snapshot)
        with self._admitting() as open_:
            if not open_:
                return Admitted(_refusal("edge_stopping", "The gate is restarting."), False)
            verdict = self._decided(lane, evidence, event_id, picture is not None)
            opened = verdict.granted and self._open(lane.gate_id)
            self._show(lane, verdict, opened)
        if picture is not None:
            self._evidence.keep(event_id, picture)
        return Admitted(verdict, opened)

    @contextmanager
    def _admitting(self) -> Iterator[bool]:
        """Counts an admission under way (False: the edge is closing, admit nothing)."""
        with self._state:
            if self._closed:
                yield False
                return
            self._busy += 1
        try:
            yield True
        finally:
            with self._state:
                self._busy -= 1
                self._state.notify_all()

    def _decided(
        self, lane: Lane, evidence: Evidence, event_id: uuid.UUID, pictured: bool
    ) -> Verdict:
        """Decide, take the passage and the pass entry, and record the entry event."""
        reading = self._clock.read()
        context = self._context(lane, reading.now, reading.trusted)
        verdict, taken = self._take_passage(lane, evidence, context)
        verdict = self._second_factor(lane, evidence, verdict, reading.now)
        counted = self._count(verdict, event_id)
        if taken is not None and not counted.granted:
            self._give_back(taken)
        verdict = _flagged(counted, SNAPSHOT_FLAG) if pictured else counted
        for alert in verdict.alerts:
            self.alarm(lane.gate_id, alert.code, alert.severity, alert.text)
        if verdict.duress:
            text = f"Duress PIN of {verdict.subject.id} at {lane.gate_id}/{lane.lane}."
            self.alarm(lane.gate_id, "duress", Severity.CRITICAL, text)
        self._record(lane, reading.now, verdict, event_id)
        return verdict

    def _take_passage(
        self, lane: Lane, evidence: Evidence, context: Context
    ) -> tuple[Verdict, _Taken | None]:
        """The decision, made again under the person's lock with the hub's view asked for
        beforehand, and for a grant the passage recorded before the lock is let go: two lanes
        cannot both let the same person in (anti-passback stays exact). Should the registry
        name another person meanwhile, the lock is taken for them instead."""
        verdict = decide(evidence, context)
        for _ in range(3):
            subject_id = verdict.subject.id
            hub_view = self._hub_view(subject_id, context)
            with self._people.holding([subject_id] if subject_id is not None else []):
                again = decide(evidence, context)
                verdict = self._with_hub_view(evidence, context, again, hub_view)
                if verdict.subject.id == subject_id:
                    return verdict, self._record_passage(lane, context.now, verdict)
        logger.warning("gate %s: the registry kept changing under a decision", lane.gate_id)
        return verdict, None

    def _record_passage(self, lane: Lane, now: datetime, verdict: Verdict) -> _Taken | None:
        subject_id = verdict.subject.id
        if not verdict.granted or subject_id is None:
            return None
        passage = Passage(lane.direction, now, lane.gate_id)
        previous = self._ledger_write(lambda: self._ledger.last_passage(subject_id))
        written = self._ledger_write(lambda: self._ledger.record_passage(subject_id, passage))
        if written is _FAILED:
            return None
        return _Taken(subject_id, passage, previous if isinstance(previous, Passage) else None)

    def _give_back(self, taken: _Taken) -> None:
        """Under the person's lock, as it was taken. A passage given back that another
        lane's grant then named as its previous one is not put back by that grant's own
        giving back (`_withdrawn`): the person is left with no passage rather than one
        that never happened."""
        ledger = self._ledger
        with self._people.holding([taken.subject_id]):
            previous = taken.previous
            if previous is not None and previous in self._withdrawn.get(taken.subject_id, ()):
                previous = None
            recent = {  # a day's are enough: the lane that names one decides within seconds
                p
                for p in self._withdrawn.get(taken.subject_id, set())
                if taken.passage.at - p.at < timedelta(days=1)
            }
            self._withdrawn[taken.subject_id] = recent | {taken.passage}
            self._ledger_write(
                lambda: ledger.withdraw_passage(taken.subject_id, taken.passage, previous)
            )

    def _hub_view(self, subject_id: str | None, context: Context) -> _HubView | None:
        """Where the hub last saw the person, when anti-passback asks (a call to the hub)."""
        if context.rules.anti_passback == "off" or subject_id is None or self._claims is None:
            return None
        return _HubView(self._claims.presence(subject_id))

    def _with_hub_view(
        self, evidence: Evidence, context: Context, verdict: Verdict, hub_view: _HubView | None
    ) -> Verdict:
        """Anti-passback across every gate: decide again with the hub's view of where the
        person last passed when it differs from this edge's; flagged when the hub is out."""
        subject_id = verdict.subject.id
        if hub_view is None or subject_id is None:
            return verdict
        if hub_view.presence is None:
            return _flagged(verdict, "offline_passback")
        merged = _Merged(self._ledger, subject_id, hub_view.presence.last)
        if merged.last_direction(subject_id) is self._ledger.last_direction(subject_id):
            return verdict
        return decide(evidence, replace(context, history=merged))

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
        holder = verdict.subject.id
        with self._state:
            self._faces_waiting = {
                at: waiting
                for at, waiting in self._faces_waiting.items()
                if abs((now - waiting[1]).total_seconds()) <= SECOND_FACTOR_S
            }
            if isinstance(evidence, FaceEvidence):
                if verdict.decision.reason_code in SECOND_FACTOR_CODES:
                    self._faces_waiting[lane] = (evidence, now)
                return verdict
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
        if snapshot is None or not self._evidence.enabled:
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
        try:
            self._on_verdict(lane, verdict, opened)
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
        with self._admitting() as open_:
            if open_:
                self._record(lane, self._clock.read().now, verdict, uuid.uuid4())
                self._show(lane, verdict, opened=False)

    def alarm(self, gate_id: str | None, code: str, severity: Severity, text: str) -> None:
        self._alarms.alarm(gate_id, code, severity, text)

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

    def _count(self, verdict: Verdict, event_id: uuid.UUID) -> Verdict:
        """Take a granted pass entry: at the hub while it answers (the event id makes the
        count idempotent), else from this edge's own count, flagged `offline_limit`. Either
        takes it atomically, so two lanes showing a one-entry pass at once grant once."""
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
            if taken is False:  # _FAILED: the ledger failed, and the decision stands
                return _used_up(verdict, f"({claim.max_entries} allowed)")
            return _flagged(verdict, "offline_limit")
        self._ledger_write(lambda: self._ledger.note_entries(claim.pass_id, counted.entries))
        if counted.granted:
            return verdict
        return _used_up(verdict, f"({claim.max_entries} allowed, all gates)")

    def _ledger_write(self, write: Callable[[], object]) -> object:
        """A ledger write that fails (a full disk) is alarmed and answers `_FAILED`; the gate
        goes on deciding."""
        try:
            return write()
        except sqlite3.Error as exc:
            logger.exception("ledger write failed")
            self.alarm(None, "ledger_error", Severity.CRITICAL, f"Ledger write failed: {exc}")
            return _FAILED

    def _record(self, lane: Lane, now: datetime, verdict: Verdict, event_id: uuid.UUID) -> None:
        decision = verdict.decision
        logger.info(
            "gate %s %s: %s %s",
            lane.gate_id,
            decision.outcome.value,
            verdict.credential.method.value,
            decision.reason_code,
        )
        self._on_decision(verdict.credential.method.value, decision.outcome.value)

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
            self._delivery.emit(entry)
        except OutboxFull as exc:
            logger.error("gate %s: event not recorded: %s", lane.gate_id, exc)
        except OutboxError:
            logger.exception("gate %s: event could not be recorded", lane.gate_id)

    def _open(self, gate_id: str) -> bool:
        controller = self._controllers.get(gate_id)
        return True if controller is None else controller.grant()


_FAILED = object()  # what `_ledger_write` answers when the ledger failed


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
