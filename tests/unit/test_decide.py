"""The access policy as a table: one row per rule, each through the one `decide` function."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.decide import (
    CardEvidence,
    Context,
    Evidence,
    FaceEvidence,
    GateRules,
    PinEvidence,
    PlateEvidence,
    QrEvidence,
    RemoteEvidence,
    decide,
)
from edge.registry import RegistryCache
from edge.schedules import Window
from models.events import Direction, Method, Outcome, SubjectKind
from models.registry import (
    CardRecord,
    Change,
    FacePolicyRecord,
    Op,
    PassRecord,
    PersonRecord,
    PinRecord,
    PlateRecord,
    Record,
    RegistryDelta,
    WatchlistRecord,
)
from models.signing import generate_key
from models.tokens import GateCommand, PassToken, sign_token

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Saturday
ISSUER = generate_key()
FOREIGN = generate_key()
PIN_OK, PIN_DURESS = "a" * 64, "b" * 64


def _records() -> list[Record]:
    day = timedelta(days=1)
    return [
        PersonRecord(id="p-wang", subject_kind=SubjectKind.RESIDENT, unit_id="b1-101"),
        PersonRecord(id="p-courier", subject_kind=SubjectKind.STAFF, unit_id=None),
        PersonRecord(id="p-watched", subject_kind=SubjectKind.RESIDENT, unit_id="b1-102"),
        PersonRecord(id="p-alerted", subject_kind=SubjectKind.RESIDENT, unit_id="b1-103"),
        PersonRecord(id="p-twin", subject_kind=SubjectKind.RESIDENT, unit_id="b1-104"),
        # The hub's risk gate: dlib's gallery is safe for a face alone, but for a look-alike.
        FacePolicyRecord(
            id="policy-dlib",
            engine="dlib",
            people=40,
            fpir_bound=0.002,
            limit=0.01,
            look_alikes=["p-twin"],
        ),
        FacePolicyRecord(
            id="policy-mobilefacenet",
            engine="mobilefacenet",
            people=40,
            fpir_bound=0.03,
            limit=0.01,
        ),
        CardRecord(id="c1", person_id="p-wang", number="1001"),
        CardRecord(id="c2", person_id="p-courier", number="2001"),
        CardRecord(id="c3", person_id="p-watched", number="3001"),
        CardRecord(id="c4", person_id="p-alerted", number="4001"),
        CardRecord(id="c5", person_id="p-wang", number="5001", valid_until=NOW - day),
        CardRecord(id="c6", person_id="p-gone", number="6001"),
        PinRecord(id="pin1", person_id="p-wang", digest=PIN_OK),
        PinRecord(id="pin2", person_id="p-wang", digest=PIN_DURESS, duress=True),
        PlateRecord(id="pl1", person_id="p-wang", number="京A12345"),
        PlateRecord(id="pl2", person_id="p-courier", number="京B55555"),
        PlateRecord(id="pl3", person_id="p-alerted", number="京B55556"),
        PlateRecord(id="pl4", person_id="p-wang", number="沪B67892"),
        PlateRecord(id="pl5", person_id="p-wang", number="WJ京12345"),
        PlateRecord(id="pl6", person_id=None, number="京A54321"),  # on the register, no owner
        PlateRecord(id="pl7", person_id="p-wang", number="京A54322"),
        PassRecord(
            id="pass-1",
            unit_id="b1-101",
            valid_from=NOW - day,
            valid_until=NOW + day,
            max_entries=2,
            plate="沪B67890",
        ),
        WatchlistRecord(id="w1", target="person", value="p-watched", action="deny"),
        WatchlistRecord(id="w2", target="person", value="p-alerted", action="alert"),
        WatchlistRecord(id="w3", target="plate", value="粤C00001", action="deny"),
    ]


def _registry(without: str | None = None) -> RegistryCache:
    changes = [
        Change(op=Op.UPSERT, record_kind=r.kind, id=r.id, record=r)
        for r in _records()
        if r.id != without
    ]
    cache = RegistryCache("c1")
    cache.apply(RegistryDelta(compound_id="c1", from_version=0, to_version=1, changes=changes))
    cache.synced_at = (NOW - timedelta(minutes=5)).timestamp()
    return cache


@dataclass
class Ledger:
    entries: dict[str, int] = field(default_factory=dict)
    last: dict[str, Direction] = field(default_factory=dict)

    def pass_entries(self, pass_id: str) -> int:
        return self.entries.get(pass_id, 0)

    def last_direction(self, subject_id: str) -> Direction | None:
        return self.last.get(subject_id)


def _token(**change: object) -> str:
    claims = PassToken(
        pass_id="pass-1",
        compound_id="c1",
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        max_entries=2,
        issued_at=NOW - timedelta(days=1),
        registry_version=1,
    )
    key = change.pop("key", ISSUER)
    return sign_token(claims.model_copy(update=change), key)  # type: ignore[arg-type]


def _command(action: str) -> GateCommand:
    return GateCommand(
        command_id=uuid.uuid4(),
        compound_id="c1",
        edge_id="e1",
        gate_id="g1",
        action=action,  # type: ignore[arg-type]
        reason="courier with a parcel for b1-101",
        issued_by="guard-chen",
        issued_at=NOW,
        subject_id="p-wang",
    )


BASE = Context(
    registry=_registry(),
    rules=GateRules("g1", Direction.IN, timezone=ZoneInfo("Asia/Shanghai")),
    now=NOW,
    issuer_key=ISSUER.public_key(),
)
STAFF_HOURS = {"staff": (Window.parse("mon-fri 07:00-21:00"),)}


@dataclass(frozen=True)
class Case:
    name: str
    evidence: Evidence
    outcome: Outcome
    code: str
    context: Context = BASE
    flags: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    duress: bool = False
    claim: bool = False


CASES = [
    # cards
    Case("registered card", CardEvidence("1001"), Outcome.GRANTED, "card_valid"),
    Case("unknown card", CardEvidence("9999"), Outcome.DENIED, "card_unknown"),
    Case("expired card", CardEvidence("5001"), Outcome.DENIED, "card_expired"),
    Case("card of a deleted person", CardEvidence("6001"), Outcome.DENIED, "person_unknown"),
    Case(
        "expired card, untrusted clock",
        CardEvidence("5001"),
        Outcome.DENIED,
        "card_expired",
        context=replace(BASE, clock_trusted=False),
        flags=("clock_untrusted",),
    ),
    # stale registry: each method its fallback
    Case(
        "stale registry, cards allowed",
        CardEvidence("1001"),
        Outcome.GRANTED,
        "card_valid",
        context=replace(BASE, fallbacks={"card": "allow"}),
        flags=("registry_stale",),
    ),
    Case(
        "stale registry, cards denied",
        CardEvidence("1001"),
        Outcome.DENIED,
        "registry_stale",
        context=replace(BASE, fallbacks={"card": "deny"}),
    ),
    Case(
        "stale registry, face asks the guard",
        FaceEvidence("p-wang", distance=0.4, margin=0.2, live=True),
        Outcome.DENIED,
        "ask_guard",
        context=replace(BASE, fallbacks={"face": "guard"}),
    ),
    # PINs
    Case("registered PIN", PinEvidence(PIN_OK), Outcome.GRANTED, "pin_valid"),
    Case("unknown PIN", PinEvidence("c" * 64), Outcome.DENIED, "pin_unknown"),
    Case(
        "duress PIN opens, looks ordinary",
        PinEvidence(PIN_DURESS),
        Outcome.GRANTED,
        "pin_valid",
        duress=True,
    ),
    # QR visitor passes
    Case("valid pass", QrEvidence(_token()), Outcome.GRANTED, "pass_valid", claim=True),
    Case(
        "forged pass",
        QrEvidence(_token(key=FOREIGN)),
        Outcome.DENIED,
        "qr_forged",
        alerts=("qr_forged",),
    ),
    Case("garbage QR", QrEvidence("https://example.com/menu"), Outcome.DENIED, "qr_invalid"),
    Case(
        "altered pass",
        QrEvidence(_token().replace(".", ".x", 2).replace(".x", ".", 1)),
        Outcome.DENIED,
        "qr_forged",
        alerts=("qr_forged",),
    ),
    Case(
        "pass of another compound",
        QrEvidence(_token(compound_id="c2")),
        Outcome.DENIED,
        "qr_foreign",
    ),
    Case(
        "expired pass",
        QrEvidence(_token(valid_until=NOW - timedelta(hours=1))),
        Outcome.DENIED,
        "pass_expired",
    ),
    Case(
        "pass not valid yet",
        QrEvidence(_token(valid_from=NOW + timedelta(hours=1))),
        Outcome.DENIED,
        "pass_not_valid_yet",
    ),
    Case(
        "revoked pass (gone from a fresh registry)",
        QrEvidence(_token()),
        Outcome.DENIED,
        "pass_revoked",
        context=replace(BASE, registry=_registry(without="pass-1")),
    ),
    Case(
        "pass newer than the registry",
        QrEvidence(_token(registry_version=2)),
        Outcome.GRANTED,
        "pass_valid",
        context=replace(BASE, registry=_registry(without="pass-1")),
        claim=True,
    ),
    Case(
        "revoked pass, stale registry: the signed window stands",
        QrEvidence(_token()),
        Outcome.GRANTED,
        "pass_valid",
        context=replace(BASE, registry=_registry(without="pass-1"), fallbacks={"qr": "allow"}),
        flags=("registry_stale",),
        claim=True,
    ),
    Case(
        "stale registry, QR denied even for a pass in the cache",
        QrEvidence(_token()),
        Outcome.DENIED,
        "registry_stale",
        context=replace(BASE, fallbacks={"qr": "deny"}),
    ),
    Case(
        "pass used up on this edge",
        QrEvidence(_token()),
        Outcome.DENIED,
        "pass_used_up",
        context=replace(BASE, history=Ledger(entries={"pass-1": 2})),
    ),
    Case(
        "leaving on a used-up pass",
        QrEvidence(_token()),
        Outcome.GRANTED,
        "pass_valid",
        context=replace(
            BASE,
            rules=replace(BASE.rules, direction=Direction.OUT),
            history=Ledger(entries={"pass-1": 2}),
        ),
    ),
    Case(
        "no issuer key on this edge",
        QrEvidence(_token()),
        Outcome.DENIED,
        "qr_unavailable",
        context=replace(BASE, issuer_key=None),
    ),
    # plates
    Case("resident plate", PlateEvidence("京A12345"), Outcome.GRANTED, "plate_registered"),
    Case(
        "visitor plate with a pass",
        PlateEvidence("沪B67890"),
        Outcome.GRANTED,
        "plate_pass",
        claim=True,
    ),
    Case("unknown plate", PlateEvidence("苏E11111"), Outcome.DENIED, "plate_unknown"),
    Case(
        "resident plate with one character misread",
        PlateEvidence("京A12346"),
        Outcome.GRANTED,
        "plate_registered",
        flags=("plate_near",),
    ),
    Case(
        "two characters off is another vehicle",
        PlateEvidence("京A12366"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "a watchlisted plate is matched exactly only",
        PlateEvidence("粤C00002"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "no tolerance across provinces",
        PlateEvidence("津A12345"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "no tolerance across provinces, wherever the plate has its province",
        PlateEvidence("WJ津12345"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "a class's character is never taken as misread",
        PlateEvidence("京A1234警"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "an unowned plate read exactly is not a resident's one character away",
        PlateEvidence("京A54321"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "no tolerance for a camera's own reading",
        PlateEvidence("京A12346", tolerant=False),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "a pass's plate is its pass, not a resident one character away",
        PlateEvidence("沪B67891"),
        Outcome.DENIED,
        "plate_unknown",
    ),
    Case(
        "watchlisted plate",
        PlateEvidence("粤C00001"),
        Outcome.DENIED,
        "watchlist",
        alerts=("watchlist_hit",),
    ),
    # faces
    Case(
        "live, identified face",
        FaceEvidence("p-wang", distance=0.41, margin=0.12, live=True),
        Outcome.GRANTED,
        "face_match",
    ),
    Case(
        "a face with a look-alike among the residents",
        FaceEvidence("p-twin", distance=0.2, margin=0.12, live=True),
        Outcome.DENIED,
        "face_second_factor",
    ),
    Case(
        "a face whose gallery is too risky for the face alone",
        FaceEvidence("p-wang", distance=0.2, margin=0.12, live=True, engine="mobilefacenet"),
        Outcome.DENIED,
        "face_second_factor",
    ),
    Case(
        "a face of an engine the hub sent no risk gate for",
        FaceEvidence(
            "p-wang", distance=0.2, margin=0.12, live=True, engine="onnx-0123456789abcdef"
        ),
        Outcome.DENIED,
        "face_second_factor",
    ),
    Case(
        "a face only the older engine knows: enrol again",
        FaceEvidence("p-wang", distance=0.2, margin=0.12, live=True, re_enrol=True),
        Outcome.DENIED,
        "face_re_enrol",
    ),
    Case(
        "a gate that always asks for a second factor",
        FaceEvidence("p-wang", distance=0.2, margin=0.12, live=True),
        Outcome.DENIED,
        "face_second_factor",
        context=replace(BASE, rules=replace(BASE.rules, face="second_factor")),
    ),
    Case(
        "a photo of a resident",
        FaceEvidence("p-wang", distance=0.38, margin=0.12, live=False),
        Outcome.DENIED,
        "face_not_live",
    ),
    # watchlists on people
    Case(
        "watchlisted person, deny",
        CardEvidence("3001"),
        Outcome.DENIED,
        "watchlist",
        alerts=("watchlist_hit",),
    ),
    Case(
        "watchlisted person, alert",
        CardEvidence("4001"),
        Outcome.GRANTED,
        "card_valid",
        flags=("watchlist",),
        alerts=("watchlist_hit",),
    ),
    # schedules (delivery staff on weekdays 07-21 local; NOW is Saturday 10:00)
    Case(
        "staff outside their hours",
        CardEvidence("2001"),
        Outcome.DENIED,
        "outside_schedule",
        context=replace(BASE, rules=replace(BASE.rules, schedules=STAFF_HOURS)),
    ),
    Case(
        "staff within their hours",
        CardEvidence("2001"),
        Outcome.GRANTED,
        "card_valid",
        context=replace(
            BASE, now=NOW - timedelta(days=1), rules=replace(BASE.rules, schedules=STAFF_HOURS)
        ),
    ),
    Case(
        "residents are not bound by staff hours",
        CardEvidence("1001"),
        Outcome.GRANTED,
        "card_valid",
        context=replace(BASE, rules=replace(BASE.rules, schedules=STAFF_HOURS)),
    ),
    # anti-passback
    Case(
        "passback hard: in twice",
        CardEvidence("1001"),
        Outcome.DENIED,
        "passback",
        context=replace(
            BASE,
            rules=replace(BASE.rules, anti_passback="hard"),
            history=Ledger(last={"p-wang": Direction.IN}),
        ),
    ),
    Case(
        "passback soft: in twice, let through and flagged",
        CardEvidence("1001"),
        Outcome.GRANTED,
        "card_valid",
        context=replace(
            BASE,
            rules=replace(BASE.rules, anti_passback="soft"),
            history=Ledger(last={"p-wang": Direction.IN}),
        ),
        flags=("passback",),
    ),
    Case(
        "passback hard: in after out",
        CardEvidence("1001"),
        Outcome.GRANTED,
        "card_valid",
        context=replace(
            BASE,
            rules=replace(BASE.rules, anti_passback="hard"),
            history=Ledger(last={"p-wang": Direction.OUT}),
        ),
    ),
    Case(
        "passback off",
        CardEvidence("1001"),
        Outcome.GRANTED,
        "card_valid",
        context=replace(BASE, history=Ledger(last={"p-wang": Direction.IN})),
    ),
    # the guard
    Case("guard opens", RemoteEvidence(_command("open")), Outcome.GRANTED, "guard_open"),
    Case("guard refuses", RemoteEvidence(_command("deny")), Outcome.DENIED, "guard_deny"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy(case: Case) -> None:
    verdict = decide(case.evidence, case.context)
    assert (verdict.decision.outcome, verdict.decision.reason_code) == (case.outcome, case.code)
    assert verdict.decision.flags == case.flags
    assert tuple(a.code for a in verdict.alerts) == case.alerts
    assert verdict.duress is case.duress
    assert (verdict.claim is not None) is case.claim
    assert verdict.decision.reason  # a sentence for a person, always


def test_every_method_is_decided_by_the_same_function() -> None:
    """Face is never the only way in: each method has a case that opens."""
    opened = {
        decide(c.evidence, c.context).credential.method
        for c in CASES
        if c.outcome is Outcome.GRANTED
    }
    assert opened >= {Method.CARD, Method.PIN, Method.QR, Method.PLATE, Method.FACE, Method.REMOTE}


def test_a_duress_pin_reads_exactly_like_an_ordinary_one() -> None:
    ordinary = decide(PinEvidence(PIN_OK), BASE)
    duress = decide(PinEvidence(PIN_DURESS), BASE)
    assert duress.decision == ordinary.decision
    assert duress.subject == ordinary.subject


def test_a_pass_names_the_visitor_and_the_pass_not_the_token() -> None:
    verdict = decide(QrEvidence(_token()), BASE)
    assert verdict.subject.kind is SubjectKind.VISITOR
    assert verdict.credential.reference == "pass-1"


def test_the_decision_does_not_touch_the_clock_or_the_disk() -> None:
    """Pure: the same evidence and context give the same verdict, any time, any number of
    times (the context's time is the only time it knows)."""
    first = decide(CardEvidence("5001"), BASE)
    again = decide(CardEvidence("5001"), replace(BASE))
    assert first == again
    later = decide(CardEvidence("1001"), replace(BASE, now=NOW + timedelta(days=3650)))
    assert later.granted
