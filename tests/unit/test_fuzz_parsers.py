"""Property-based fuzzing of every parser that takes bytes or text from outside: the MQTT
payload envelope and the event inside it (signed with the real key, so the event parser is
reached), QR tokens, Wiegand frames, plate strings. Any input ends in a value or in the
package's own ContractError: never another exception."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import plates, signing, tokens, wiegand
from models.errors import ContractError
from models.tokens import GateCommand, PassToken
from tests import factories

T = TypeVar("T")
KEY = signing.generate_key()
PUBLIC = KEY.public_key()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_EVENT = json.loads(factories.entry(factories.position()).model_dump_json())

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)


@st.composite
def mutated_events(draw: st.DrawFn) -> str:
    """A real event's JSON with some fields replaced, removed or added."""
    event = dict(VALID_EVENT)
    for name in draw(st.lists(st.sampled_from(sorted(event)), max_size=4)):
        if draw(st.booleans()):
            event[name] = draw(json_values)
        else:
            event.pop(name, None)
    event |= draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))
    return json.dumps(event)


def signed(body: str, edge_id: object) -> bytes:
    sig = base64.b64encode(KEY.sign(body.encode("utf-8"))).decode("ascii")
    return json.dumps({"v": 1, "edge_id": edge_id, "body": body, "sig": sig}).encode()


def contract_or_value(parse: Callable[[T], object], raw: T) -> None:
    with contextlib.suppress(ContractError):
        parse(raw)


def open_and_verify(payload: bytes) -> None:
    signing.verify(signing.open_envelope(payload), PUBLIC)


@FUZZ
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_on_the_events_topic_are_opened_or_refused(raw: bytes) -> None:
    contract_or_value(open_and_verify, raw)


@FUZZ
@given(mutated_events(), st.sampled_from(["edge-1", "edge-2", "", "x" * 80]) | json_values)
def test_signed_bodies_of_any_shape_parse_or_are_refused(body: str, edge_id: object) -> None:
    contract_or_value(open_and_verify, signed(body, edge_id))


@FUZZ
@given(st.text(max_size=300) | st.from_regex(r"AJ1\.[A-Za-z0-9_\-\.]{0,120}", fullmatch=True))
def test_qr_tokens_verify_or_are_refused(text: str) -> None:
    contract_or_value(lambda t: tokens.verify_token(t, PassToken, PUBLIC), text)
    contract_or_value(lambda t: tokens.verify_token(t, GateCommand, PUBLIC), text)


@FUZZ
@given(st.binary(max_size=80) | st.from_regex(rb"[WKQ0-9A-Fa-f: ]{0,40}\n?", fullmatch=True))
def test_wiegand_frames_decode_or_are_refused(line: bytes) -> None:
    contract_or_value(wiegand.decode_frame, line)


@FUZZ
@given(st.text(max_size=30))
def test_plate_strings_parse_repair_or_are_refused(text: str) -> None:
    contract_or_value(plates.parse, text)
    contract_or_value(plates.repair, text)


def test_the_valid_event_itself_parses() -> None:
    """The mutations start from a real event: unmutated, it must be accepted."""
    signing.verify(signing.open_envelope(signed(json.dumps(VALID_EVENT), "edge-1")), PUBLIC)
